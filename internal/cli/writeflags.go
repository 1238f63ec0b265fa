package cli

import (
	"flag"

	"github.com/tfprep/tfprep/pipeline"
	"github.com/tfprep/tfprep/tfrecord"
)

// writeFlags are the flags of the commands that write a dataset (convert,
// reshard, merge): its splits, shards, compression, order, index sidecars,
// and what becomes of repeated keys.
type writeFlags struct {
	splits      *string
	shards      *int
	shardSize   *string
	compression *string
	seed        *int64
	index       *bool
	overwrite   *bool
	duplicates  *string
	sha256      *bool
}

// writeUsage is what the help of writeFlags says differently per command.
type writeUsage struct {
	Splits string // --splits
	Seed   string // --seed
	Rows   string // what is read: "rows" (convert) or "records"
}

func declareWriteFlags(fs *flag.FlagSet, u writeUsage) *writeFlags {
	return &writeFlags{
		splits:      fs.String("splits", "", u.Splits),
		shards:      fs.Int("shards", 0, "shards per split (default: from --shard-size)"),
		shardSize:   fs.String("shard-size", "128MiB", "target shard size when --shards is not given (B, KB, MB, GB, KiB, MiB, GiB)"),
		compression: fs.String("compression", "none", "shard compression: none, gzip or zlib"),
		seed:        fs.Int64("seed", 0, u.Seed),
		index:       fs.Bool("index", false, "write a DALI index sidecar (SHARD.idx) per shard; uncompressed shards only"),
		overwrite:   fs.Bool("overwrite", false, "replace an earlier dataset in the output directory"),
		duplicates:  fs.String("duplicate-keys", "warn", u.Rows+" whose key an earlier one has: warn (write them, listed as warnings) or reject (stage label, errors.csv)"),
		sha256:      fs.Bool("sha256", false, "record each shard's SHA-256 in dataset.json besides its CRC-32C (costs CPU: SHA-256 runs at ~2 GB/s)"),
	}
}

// writeLayout is the parsed writeFlags.
type writeLayout struct {
	Splits              []pipeline.SplitWeight // nil when --splits is not given
	Shards              int
	ShardSize           int64 // when Shards is 0
	Compression         tfrecord.Compression
	Seed                int64
	Index, Overwrite    bool
	RejectDuplicateKeys bool
	SHA256              bool
}

// parse checks the flags; its errors are usage errors. Weights of --splits
// that do not sum to 1 are noted with the fractions they give.
func (w *writeFlags) parse(env *Env) (writeLayout, error) {
	l := writeLayout{Shards: *w.shards, Seed: *w.seed, Index: *w.index, Overwrite: *w.overwrite, SHA256: *w.sha256}
	var err error
	if *w.splits != "" {
		if l.Splits, err = pipeline.ParseSplits(*w.splits); err != nil {
			return l, &usageError{err}
		}
		if note := pipeline.FractionsNote(l.Splits); note != "" {
			env.notef("%s", note)
		}
	}
	if l.Shards == 0 {
		if l.ShardSize, err = pipeline.ParseSize(*w.shardSize); err != nil {
			return l, usagef("--shard-size: %w", err)
		}
	}
	if l.Compression, err = tfrecord.ParseCompression(*w.compression); err != nil {
		return l, usagef("--compression: %w", err)
	}
	switch *w.duplicates {
	case "warn":
	case "reject":
		l.RejectDuplicateKeys = true
	default:
		return l, usagef("--duplicate-keys %q: want warn or reject", *w.duplicates)
	}
	return l, nil
}
