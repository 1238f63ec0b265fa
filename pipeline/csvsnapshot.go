package pipeline

import (
	"bytes"
	"context"
	"io"
	"path"
	"strings"
	"sync"
)

// CSV snapshots save the job one round trip to a bucket. The launcher's
// pre-flight (readHeader) opens every CSV file for its header; when the
// object is small it reads the rest of it in that same request and keeps
// the bytes here, keyed by the file's path. The job's readers (openRange)
// serve their ranges from the snapshot instead of opening the object again,
// when they run in this process (in-process Prism, LOOPBACK workers), and so
// parse exactly the bytes whose header and size the pre-flight checked.
// Workers in other processes never see the snapshots and read from storage;
// so does a reader that finds no snapshot (forgotten, never taken, or
// replaced by a later pre-flight of the same path): that is always correct,
// only one round trip slower.
//
// Only remote files (a URL, "://") are kept: a local file has no latency to
// save. The snapshots of a conversion are dropped by forgetCSVSnapshots once
// its job has ended, and csvSnapshotMaxBytes and csvSnapshotBudget bound
// what the process holds meanwhile.

// csvSnapshotMaxBytes bounds the size of a CSV file kept whole. It is
// csvRangeBytes' default on purpose: a file of at most one range is read by
// the job in one pass, from its start, by one reader that buffers all of it
// (recordScanner keeps the bytes it read), so reading it in the pre-flight's
// request moves its transfer and its memory earlier without adding any; and
// no image is read before the whole CSV is (the shard writers take their
// rows from a GroupByKey), so nothing that could overlap the transfer is
// delayed. (The snapshot is held longer, from the pre-flight until the job
// ends, hence csvSnapshotBudget.) A larger file is read by the job in
// ranges, in parallel: one sequential read of it in the pre-flight could
// take longer than the round trip it saves, and would hold more than a
// range's worth of memory for the whole job. (A variable for tests; -1
// takes no snapshot.)
var csvSnapshotMaxBytes int64 = 8 << 20

// csvSnapshotBudget bounds the bytes of all the snapshots the process holds
// at once (those being read included): a glob of many small files, or
// conversions that run at once, do not pile up more than this; the files
// after it is reached are read from storage as without snapshots.
var csvSnapshotBudget int64 = 64 << 20

var csvSnapshots struct {
	sync.Mutex
	byPath map[string][]byte
	bytes  int64 // held in byPath and reserved by reads under way
}

type noCSVSnapshotsKey struct{}

// withoutCSVSnapshots returns ctx marked so that the pre-flight under it
// (csvInputs, readHeader) takes no snapshot: for jobs whose workers run in
// other processes, which would never use them.
func withoutCSVSnapshots(ctx context.Context) context.Context {
	return context.WithValue(ctx, noCSVSnapshotsKey{}, true)
}

// reserveCSVSnapshot reports whether the file at path, of size bytes, is to
// be kept whole, and if so counts its size against csvSnapshotBudget; the
// caller then either stores the snapshot (storeCSVSnapshot) or releases the
// reservation (releaseCSVSnapshot).
func reserveCSVSnapshot(ctx context.Context, path string, size int64) bool {
	if !strings.Contains(path, "://") || size <= 0 || size > csvSnapshotMaxBytes || ctx.Value(noCSVSnapshotsKey{}) != nil {
		return false
	}
	csvSnapshots.Lock()
	defer csvSnapshots.Unlock()
	if csvSnapshots.bytes+size > csvSnapshotBudget {
		return false
	}
	csvSnapshots.bytes += size
	return true
}

// releaseCSVSnapshot gives back a reservation that was not stored.
func releaseCSVSnapshot(size int64) {
	csvSnapshots.Lock()
	csvSnapshots.bytes -= size
	csvSnapshots.Unlock()
}

// storeCSVSnapshot keeps data, reserved, as the snapshot of path, replacing
// an earlier one (the latest pre-flight wins; both are the same object's).
// data must not be changed afterwards.
func storeCSVSnapshot(path string, data []byte) {
	csvSnapshots.Lock()
	defer csvSnapshots.Unlock()
	if csvSnapshots.byPath == nil {
		csvSnapshots.byPath = map[string][]byte{}
	}
	if old, ok := csvSnapshots.byPath[path]; ok {
		csvSnapshots.bytes -= int64(len(old))
	}
	csvSnapshots.byPath[path] = data[:len(data):len(data)]
}

// csvSnapshot returns the snapshot of path, if one is held. Its bytes are
// shared: read only.
func csvSnapshot(path string) ([]byte, bool) {
	csvSnapshots.Lock()
	defer csvSnapshots.Unlock()
	data, ok := csvSnapshots.byPath[path]
	return data, ok
}

// forgetCSVSnapshots drops the snapshots of paths: the CSV files' paths, or
// the --csv arguments they were expanded from (a glob drops the snapshots of
// the files it matches, as listCSV matches them). A job still reading one of
// them reads from storage from then on. It is meant for Convert, deferred
// with Config.CSV, so that the snapshots go once the job has ended, and
// also when it fails to be built after the pre-flight.
func forgetCSVSnapshots(paths []string) {
	csvSnapshots.Lock()
	defer csvSnapshots.Unlock()
	drop := func(key string) {
		if data, ok := csvSnapshots.byPath[key]; ok {
			csvSnapshots.bytes -= int64(len(data))
			delete(csvSnapshots.byPath, key)
		}
	}
	for _, p := range paths {
		drop(p)
		loc, query, _ := strings.Cut(p, "?")
		i := strings.LastIndex(loc, "/")
		if !strings.Contains(p, "://") || !strings.ContainsAny(loc[i+1:], "*?[\\") {
			continue
		}
		dir, pattern := loc[:i+1], loc[i+1:]
		for key := range csvSnapshots.byPath {
			kloc, kquery, _ := strings.Cut(key, "?")
			name, ok := strings.CutPrefix(kloc, dir)
			if matched, _ := path.Match(pattern, name); ok && matched && kquery == query {
				drop(key)
			}
		}
	}
}

// readWhole reads f, of size bytes, whole. data is its bytes when it held
// exactly size (nil otherwise: a read error, or an object whose content is
// not its stored size, such as a gzip-transcoded one); src reads f from its
// start as f itself would have, whatever happened.
func readWhole(f io.Reader, size int64) (data []byte, src io.Reader) {
	var buf bytes.Buffer
	buf.Grow(int(size) + bytes.MinRead)
	_, err := buf.ReadFrom(io.LimitReader(f, size+1))
	src = io.MultiReader(bytes.NewReader(buf.Bytes()), f)
	if err != nil || int64(buf.Len()) != size {
		return nil, src
	}
	return buf.Bytes(), src
}
