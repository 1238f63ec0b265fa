package dataset

import (
	"encoding/binary"
	"hash/fnv"
)

// KeyHash is the stable seeded 64-bit hash of a row key behind every
// key-based decision about a dataset: its split (purpose "split"), its shard
// ("shard"), its place in a shard ("order") and a trainer's hold-out
// ("holdout"). It is FNV-1a (64-bit) over purpose, the seed as 8
// little-endian bytes and the key, followed by splitmix64's finaliser, so
// that similar keys spread over all bits. The purpose keeps the uses
// independent: the rows of one split are not all in one shard, and a
// hold-out taken from a split does not depend on how the split was drawn.
// The construction is part of the format: changing it changes which rows
// reruns put where.
func KeyHash(seed uint64, purpose, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	h.Write(binary.LittleEndian.AppendUint64(nil, seed))
	h.Write([]byte(key))
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
