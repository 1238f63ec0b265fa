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
		Long: `Merge reads the datasets SRC1, SRC2, ... and writes DST holding all their records, byte for
byte, split by split (a split of any source becomes a split of DST). The sources must
have been written with the same spec; otherwise merge refuses and names the first spec
field that differs. A key that several records have (in one source or several) is
reported as convert reports a repeated key: by default every record is written and each
repeat is a warning (rows.warned in dataset.json, and the summary); with
--duplicate-keys=reject only the first is written (first: in the order the sources are
given, then shard, then place in the shard) and the others go to errors.csv (stage label).

It runs as "tfprep reshard" does, with the same flags and guarantees: rows read (the
sources' records) = records written + rejected, dataset.json last, the same bytes when
run again (and, unless --duplicate-keys=reject, whatever the order of the sources).

Exit codes: 0 written; 3 written, some records rejected (see errors.csv); 1 failed
(nothing written); 2 usage error.

Examples:
  tfprep merge out/part1 out/part2 out/all
  tfprep merge out/a out/b out/all --splits train=0.9,validation=0.1 --shards 64
  tfprep merge out/a out/b out/all --duplicate-keys reject`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			return rewriteFlags(fs, "merge")
		},
	})
}
