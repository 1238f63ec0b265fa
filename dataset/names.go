package dataset

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/tfprep/tfprep/tfrecord"
)

// ErrShardName: a file name is not a shard name of the form ShardName makes.
var ErrShardName = errors.New("dataset: not a shard name")

// compressionSuffix maps the manifest's compression names to file suffixes.
var compressionSuffix = map[string]string{"none": "", "gzip": ".gz", "zlib": ".zz"}

// ShardName returns the file name of shard i (counting from 0) of the n
// shards of split: "{split}-{SSSSS}-of-{NNNNN}.tfrecord" plus ".gz" or ".zz"
// when compressed. Numbers are zero-padded to five digits and grow wider
// beyond 99999.
func ShardName(split string, i, n int, c tfrecord.Compression) string {
	return shardName(split, i, n, c.Suffix())
}

func shardName(split string, i, n int, suffix string) string {
	return fmt.Sprintf("%s-%05d-of-%05d.tfrecord%s", split, i, n, suffix)
}

// IndexName returns the name of the DALI index sidecar of a shard file:
// the shard name plus ".idx".
func IndexName(shard string) string { return shard + ".idx" }

// ShardInfo is what a shard file name says.
type ShardInfo struct {
	Split       string
	Index       int // shard number, from 0
	Count       int // shards in the split
	Compression tfrecord.Compression
}

var shardNameRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]*)-([0-9]{5,9})-of-([0-9]{5,9})\.tfrecord(\.gz|\.zz)?$`)

// ParseShardName parses a base name made by ShardName. It is the inverse of
// ShardName for valid split names and 0 <= i < n.
func ParseShardName(name string) (ShardInfo, error) {
	m := shardNameRE.FindStringSubmatch(name)
	if m == nil {
		return ShardInfo{}, fmt.Errorf("%w: %q (want {split}-{SSSSS}-of-{NNNNN}.tfrecord[.gz|.zz])", ErrShardName, name)
	}
	i, _ := strconv.Atoi(m[2])
	n, _ := strconv.Atoi(m[3])
	if i >= n {
		return ShardInfo{}, fmt.Errorf("%w: %q: shard %d of %d", ErrShardName, name, i, n)
	}
	c := tfrecord.None
	switch m[4] {
	case ".gz":
		c = tfrecord.GZIP
	case ".zz":
		c = tfrecord.ZLIB
	}
	// Reject non-canonical padding ("000001") so name and numbers map 1:1.
	if shardName(m[1], i, n, c.Suffix()) != name {
		return ShardInfo{}, fmt.Errorf("%w: %q: numbers not padded to five digits", ErrShardName, name)
	}
	return ShardInfo{Split: m[1], Index: i, Count: n, Compression: c}, nil
}

// ValidSplitName reports whether name can name a split: a letter followed by
// letters, digits or underscores, at most 64 characters. Hyphens are
// excluded so that shard names parse unambiguously.
func ValidSplitName(name string) error { return validSplitName(name) }

var splitNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

func validSplitName(name string) error {
	if !splitNameRE.MatchString(name) {
		return fmt.Errorf("bad split name %q: want a letter then letters, digits or _ (at most 64)", name)
	}
	return nil
}
