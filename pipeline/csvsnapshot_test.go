package pipeline

import (
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/storage"
)

// snapshotBucket is a bucket of scheme behind a recording proxy, holding
// in/images (testdata's) and in/in.csv: testdata/bad.csv (rows rejected
// for every reason, an unbalanced quote across lines) behind a byte order
// mark.
type snapshotBucket struct {
	scheme string
	proxy  *storagetest.Proxy
	loc    func(prefix string) string
	csv    string // in/in.csv's path
	object string // its object name
}

func startSnapshotBucket(t *testing.T, scheme string) *snapshotBucket {
	t.Helper()
	b := &snapshotBucket{scheme: scheme, object: "in/in.csv"}
	switch scheme {
	case "gs":
		g := storagetest.StartGCS(t, "bucket")
		b.proxy = storagetest.NewProxy(t, g.Addr)
		gp := g.Via(b.proxy.Addr)
		b.loc = func(prefix string) string { return gp.Location(t, "bucket", prefix) }
	default:
		s := storagetest.StartS3(t, "bucket")
		b.proxy = storagetest.NewProxy(t, s.Addr)
		sp := s.Via(b.proxy.Addr)
		b.loc = func(prefix string) string { return sp.Location(t, "bucket", prefix) }
	}
	in := b.loc("in")
	upload(t, in, "images", filepath.Join("testdata", "images"))
	data, err := os.ReadFile(filepath.Join("testdata", "bad.csv"))
	if err != nil {
		t.Fatal(err)
	}
	b.csv = storagetest.Join(in, "in.csv")
	b.write(t, append(slices.Clone(utf8BOM), data...))
	t.Cleanup(func() { forgetCSVSnapshots([]string{b.csv}) })
	return b
}

// write replaces the CSV object.
func (b *snapshotBucket) write(t *testing.T, data []byte) {
	t.Helper()
	ctx := context.Background()
	d, name, err := openParent(ctx, b.csv)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteFile(ctx, name, data, nil); err != nil {
		t.Fatal(err)
	}
}

// csvGets returns how many times the CSV object's content was read (GETs
// of the object itself; a probe's metadata request, a listing are not).
func (b *snapshotBucket) csvGets() int {
	n := 0
	want := "/bucket/" + url.PathEscape(b.object) // GCS's XML API
	if b.scheme == "s3" {
		want = "/bucket/" + b.object // S3, path-style
	}
	for _, l := range b.proxy.Log() {
		if u, err := url.ParseRequestURI(l.Target); err == nil && l.Method == "GET" && u.EscapedPath() == want {
			n++
		}
	}
	return n
}

// convert converts the bucket's CSV into out (a prefix of the bucket) and
// returns the number of reads of the CSV object it made and every object
// it wrote but the manifest (which names its output).
func (b *snapshotBucket) convert(t *testing.T, ctx context.Context, out string) (gets int, written map[string][]byte) {
	t.Helper()
	cfg := testConfig(t, "bad.csv")
	cfg.CSV = []string{b.csv}
	cfg.Images = storagetest.Join(b.loc("in"), "images")
	cfg.Out = b.loc(out)
	b.proxy.Record()
	m, err := Convert(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	gets = b.csvGets()
	if m.Rows.Read != 11 || m.Rows.Written == 0 {
		t.Errorf("rows %+v, want bad.csv's 11 read and some written", m.Rows)
	}
	return gets, bucketObjects(t, cfg.Out)
}

// bucketObjects returns the content of every object under loc but the
// manifest.
func bucketObjects(t *testing.T, loc string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	d := openDir(t, loc)
	all, err := d.ListAll(ctx, storage.ListOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, a := range all {
		if a.Name == dataset.ManifestName {
			continue
		}
		if got[a.Name], err = d.ReadFile(ctx, a.Name); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// sameObjects reports the objects of got that differ from want's, or that
// one of them lacks.
func sameObjects(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))) {
		t.Errorf("%s wrote %v, want %v", what, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, data := range want {
		if g, ok := got[name]; ok && s3RequestIDs.ReplaceAllString(string(g), "") != s3RequestIDs.ReplaceAllString(string(data), "") {
			t.Errorf("%s: %s differs:\n%s\nwant\n%s", what, name, g, data)
		}
	}
}

// s3RequestIDs are the S3 emulator's numbers of its requests, in the reasons
// of errors.csv (a missing image's 404).
var s3RequestIDs = regexp.MustCompile(`RequestID: \w+, HostID: [\w+/=]+`)

// A conversion from a bucket reads the CSV object once: the pre-flight's
// header read keeps the small file, and the job reads it from there, in one
// range or in many; the output is byte for byte that of a conversion that
// reads the object again (no snapshot), and its shards those of a local
// conversion.
func TestCSVSnapshotOneRead(t *testing.T) {
	ctx := context.Background()
	local := testConfig(t, "bad.csv")
	if _, err := Convert(ctx, local); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			b := startSnapshotBucket(t, scheme)

			gets, want := b.convert(t, withoutCSVSnapshots(ctx), "plain")
			if gets != 2 {
				// The header, then the job's read: what the snapshot saves.
				t.Errorf("without a snapshot: %d reads of %s, want 2 (the proxy log does not count what it should)", gets, b.object)
			}
			for name := range want {
				if name == dataset.ErrorsName {
					continue // it names the input by its location
				}
				data, err := os.ReadFile(filepath.Join(local.Out, name))
				if err != nil || string(data) != string(want[name]) {
					t.Errorf("%s differs from the local conversion's (%v)", name, err)
				}
			}

			gets, got := b.convert(t, ctx, "snapshot")
			if gets != 1 {
				t.Errorf("with a snapshot: %d reads of %s, want 1", gets, b.object)
			}
			sameObjects(t, "with a snapshot", want, got)

			// Ranges of 50 bytes: ScanRanges, PlanRanges (a quoted field
			// runs across range boundaries) and ReadRanges all read the
			// snapshot, at every offset.
			defer func(old int64) { csvRangeBytes = old }(csvRangeBytes)
			csvRangeBytes = 50
			gets, got = b.convert(t, ctx, "ranges")
			if gets != 1 {
				t.Errorf("in ranges of %d bytes: %d reads of %s, want 1", csvRangeBytes, gets, b.object)
			}
			sameObjects(t, "in ranges with a snapshot", want, got)
			// The same ranges read from the bucket: the last one starts at
			// the object's end, which GCS and S3 answer with a 416.
			_, got = b.convert(t, withoutCSVSnapshots(ctx), "ranges-plain")
			sameObjects(t, "in ranges from the bucket", want, got)
		})
	}
}

// A CSV file over csvSnapshotMaxBytes, or beyond csvSnapshotBudget, is not
// kept: the job reads it from storage, and converts it the same.
func TestCSVSnapshotBounds(t *testing.T) {
	ctx := context.Background()
	b := startSnapshotBucket(t, "gs")
	_, want := b.convert(t, withoutCSVSnapshots(ctx), "plain")
	forgetCSVSnapshots([]string{b.csv})

	info, err := os.Stat(filepath.Join("testdata", "bad.csv"))
	if err != nil {
		t.Fatal(err)
	}
	size := info.Size() + int64(len(utf8BOM))
	defer func(old int64) { csvSnapshotMaxBytes = old }(csvSnapshotMaxBytes)
	csvSnapshotMaxBytes = size - 1
	files, _, err := csvInputs(ctx, []string{b.csv})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Size != size {
		t.Errorf("size %d, want %d", files[0].Size, size)
	}
	if _, ok := csvSnapshot(b.csv); ok {
		t.Fatalf("a file of %d bytes was kept, over the bound of %d", size, csvSnapshotMaxBytes)
	}
	gets, got := b.convert(t, ctx, "big")
	if gets != 2 {
		t.Errorf("over the bound: %d reads of %s, want 2", gets, b.object)
	}
	sameObjects(t, "over the bound", want, got)

	csvSnapshotMaxBytes = size
	if _, _, err := csvInputs(ctx, []string{b.csv}); err != nil {
		t.Fatal(err)
	}
	if _, ok := csvSnapshot(b.csv); !ok {
		t.Errorf("a file of %d bytes was not kept, at the bound", size)
	}
	forgetCSVSnapshots([]string{b.csv})

	// The budget counts what the process holds: a file that would exceed
	// it is not kept.
	defer func(old int64) { csvSnapshotBudget = old }(csvSnapshotBudget)
	csvSnapshots.Lock()
	csvSnapshotBudget = csvSnapshots.bytes + size - 1
	csvSnapshots.Unlock()
	if _, _, err := csvInputs(ctx, []string{b.csv}); err != nil {
		t.Fatal(err)
	}
	if _, ok := csvSnapshot(b.csv); ok {
		t.Errorf("a file was kept beyond the budget")
	}
}

// The job's reader serves the bytes the pre-flight kept, even when the
// object has changed since, without a request; once forgotten, it reads the
// object from storage again.
func TestCSVSnapshotForget(t *testing.T) {
	ctx := context.Background()
	b := startSnapshotBucket(t, "gs")
	if _, _, err := csvInputs(ctx, []string{storagetest.Join(b.loc("in"), "*.csv")}); err != nil {
		t.Fatal(err)
	}
	kept, ok := csvSnapshot(b.csv)
	if !ok {
		t.Fatalf("no snapshot of %s after the pre-flight", b.csv)
	}
	changed := "image_name,weather_labels,ground_labels\nchanged,x,y\n"
	b.write(t, []byte(changed))

	read := func(offset int64) string {
		t.Helper()
		s, closeRange, err := openRange(ctx, b.csv, offset)
		if err != nil {
			t.Fatal(err)
		}
		defer closeRange()
		for s.fill() == nil {
		}
		return string(s.buf)
	}
	b.proxy.Record()
	if got := read(0); got != string(kept) || !strings.HasPrefix(got, string(utf8BOM)+"image_name,") {
		t.Errorf("read %q from the snapshot, want the pre-flight's %q", got, kept)
	}
	if got := read(int64(len(kept) - 5)); got != string(kept[len(kept)-5:]) {
		t.Errorf("read %q from the snapshot's last 5 bytes, want %q", got, kept[len(kept)-5:])
	}
	if got := read(int64(len(kept)) + 10); got != "" {
		t.Errorf("read %q past the snapshot's end, want nothing", got)
	}
	if n := len(b.proxy.Log()); n != 0 {
		t.Errorf("reading the snapshot made %d requests, want none", n)
	}

	// A glob forgets what it matched (a --csv argument, as Convert has it).
	s, closeRange, err := openRange(ctx, b.csv, 0) // a reader open when the snapshot goes
	if err != nil {
		t.Fatal(err)
	}
	defer closeRange()
	forgetCSVSnapshots([]string{storagetest.Join(b.loc("in"), "*.csv")})
	if _, ok := csvSnapshot(b.csv); ok {
		t.Fatal("still kept after forgetCSVSnapshots")
	}
	if got := string(s.buf); got != string(kept) {
		t.Errorf("a reader open before the forget read %q, want %q", got, kept)
	}
	if got := read(0); got != changed {
		t.Errorf("after the forget: read %q, want the object's %q", got, changed)
	}
	if n := b.csvGets(); n != 1 {
		t.Errorf("after the forget: %d reads of %s, want 1", n, b.object)
	}
}

// Served from a snapshot, every range of a file reads exactly as from the
// file (TestReadRanges' cases: byte order mark, quoted line breaks across
// ranges, bad records); the file itself holds other bytes, so that a read
// from it would show.
func TestCSVSnapshotRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	if err := os.WriteFile(path, []byte(strings.Repeat("z", len(rangesCSV))), 0o644); err != nil {
		t.Fatal(err)
	}
	storeCSVSnapshot(path, []byte(rangesCSV)) // a local path is never kept by readHeader; openRange serves any
	defer forgetCSVSnapshots([]string{path})
	checkEveryRangeSize(t, path, rangesCSV)
}

// The latest pre-flight of a path wins, the budget counts each path once,
// and a glob forgets only what it matches: in its folder, with its query.
func TestCSVSnapshotForgetGlob(t *testing.T) {
	keys := []string{"gs://b/d/a.csv", "gs://b/d/b.csv", "gs://b/d/sub/c.csv", "gs://b/d/x.txt", "s3://b/d/a.csv?endpoint=http://h", "s3://b/d/b.csv"}
	defer forgetCSVSnapshots(keys)
	forgetCSVSnapshots(keys)
	held := func() int64 {
		csvSnapshots.Lock()
		defer csvSnapshots.Unlock()
		return csvSnapshots.bytes
	}
	before := held()
	for _, k := range keys {
		for _, data := range []string{"first", "k\n"} {
			if !reserveCSVSnapshot(context.Background(), k, int64(len(data))) {
				t.Fatalf("%s: not reserved", k)
			}
			storeCSVSnapshot(k, []byte(data))
		}
	}
	if got, want := held()-before, int64(2*len(keys)); got != want {
		t.Errorf("holding %d bytes, want %d", got, want)
	}
	if data, _ := csvSnapshot(keys[0]); string(data) != "k\n" {
		t.Errorf("got %q, want the latest snapshot", data)
	}
	forgetCSVSnapshots([]string{"gs://b/d/*.csv", "s3://b/d/[ab].csv?endpoint=http://h"})
	var left []string
	for _, k := range keys {
		if _, ok := csvSnapshot(k); ok {
			left = append(left, k)
		}
	}
	if want := []string{"gs://b/d/sub/c.csv", "gs://b/d/x.txt", "s3://b/d/b.csv"}; !slices.Equal(left, want) {
		t.Errorf("left %q, want %q", left, want)
	}
	forgetCSVSnapshots(left)
	if got := held(); got != before {
		t.Errorf("holding %d bytes after forgetting all, want %d", got, before)
	}
	if reserveCSVSnapshot(context.Background(), "local.csv", 2) || reserveCSVSnapshot(withoutCSVSnapshots(context.Background()), keys[0], 2) {
		t.Error("reserved a local file, or with snapshots off")
	}
}
