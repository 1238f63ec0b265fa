package cli

import (
	"context"
	"flag"
)

func init() {
	register(&Command{
		Name:  "merge",
		Args:  "SRC1 SRC2... DST [--shards N | --shard-size S] [--compression C] [--seed N] [--index] [--splits ...] [--duplicate-keys warn|reject]",
		Short: "combine converted datasets of the same spec into one (no image decoded)",
		Long: `Merge writes DST holding all the records of the datasets SRC1, SRC2, ..., byte for byte,
split by split. The sources must share their spec; otherwise merge names the first field
that differs. A key several records have is warned about (every record written), or with
--duplicate-keys=reject only the first (in the order of the sources, then shard, then
place) is written and the others go to errors.csv. It runs as "tfprep reshard" does, with
the same flags and guarantees; unless --duplicate-keys=reject, the order of the sources
does not change DST's bytes.

Exit codes as convert's: 3 when some records were rejected (see errors.csv).

Examples:
  tfprep merge out/part1 out/part2 out/all
  tfprep merge out/a out/b out/all --splits train=0.9,validation=0.1 --shards 64
  tfprep merge out/a out/b out/all --duplicate-keys reject`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			return rewriteFlags(fs, "merge")
		},
	})
}
