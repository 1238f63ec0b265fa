package cli

import (
	"context"
	"flag"
)

func init() {
	register(&Command{
		Name:  "merge",
		Args:  "SRC1 SRC2... DST [--shards N | --shard-size S] [--compression C] [--seed N] [--index] [--splits ...]",
		Short: "combine converted datasets of the same spec into one (no image decoded)",
		Long: `Merge reads the datasets SRC1, SRC2, ... and writes DST holding all their records, byte for
byte, split by split (a split of any source becomes a split of DST). The sources must
have been written with the same spec; otherwise merge refuses and names the first spec
field that differs. Records with the same key in several sources are all kept, as convert
keeps rows with a repeated key ("tfprep stats DST" lists duplicate keys).

It runs as "tfprep reshard" does, with the same flags and guarantees: rows read (the
sources' records) = records written, dataset.json last, the same bytes when run again.

Exit codes: 0 written; 1 failed (nothing written); 2 usage error.

Examples:
  tfprep merge out/part1 out/part2 out/all
  tfprep merge out/a out/b out/all --splits train=0.9,validation=0.1 --shards 64`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			return rewriteFlags(fs, "merge")
		},
	})
}
