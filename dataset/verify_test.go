package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/tfrecord"
)

func TestVerifyWritten(t *testing.T) {
	for _, c := range []tfrecord.Compression{tfrecord.None, tfrecord.GZIP} {
		t.Run(c.String(), func(t *testing.T) {
			dir, _ := writeSample(t, c, c == tfrecord.None)
			r, err := Verify(context.Background(), dir, true)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || !r.Complete || r.Records != 6 || r.Shards != 4 {
				t.Errorf("got %+v, want ok and complete with 6 records in 4 shards", r)
			}
		})
	}
}

func TestVerifyFlippedByte(t *testing.T) {
	dir, _ := writeSample(t, tfrecord.None, false)
	r, _ := verifyFlipped(t, dir, "train-00001-of-00002.tfrecord", func(size int) int { return size / 2 })
	checks := map[string]bool{}
	for _, d := range r.Discrepancies {
		if d.File != "train-00001-of-00002.tfrecord" {
			t.Errorf("discrepancy in %s, want only the damaged shard: %v", d.File, d)
		}
		checks[d.Check] = true
	}
	if !checks["crc"] || !checks["crc32c"] || r.OK {
		t.Errorf("got %v, want crc and crc32c discrepancies", r.Discrepancies)
	}

	d, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Stats(context.Background(), d, "train")
	if err != nil {
		t.Fatal(err)
	}
	if st.Damaged != 1 || st.Splits[0].Records != 3 || st.Splits[0].Damage[0].Shard != "train-00001-of-00002.tfrecord" {
		t.Errorf("got %d damaged ranges, %d records, want 1 damaged range in shard 1 and its other 3 records", st.Damaged, st.Splits[0].Records)
	}
}

func TestStatsWritten(t *testing.T) {
	dir, m := writeSample(t, tfrecord.ZLIB, false)
	d, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Stats(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	for i, ss := range st.Splits {
		if ss.Records != m.Splits[i].Records || ss.Records != ss.ManifestRecords {
			t.Errorf("%s: got %d records, manifest %d", ss.Name, ss.Records, m.Splits[i].Records)
		}
		for _, ls := range ss.Labels {
			for j := range ls.Counts {
				if ls.Counts[j] != ls.ManifestCounts[j] {
					t.Errorf("%s %s: counted %v, manifest %v", ss.Name, ls.Feature, ls.Counts, ls.ManifestCounts)
					break
				}
			}
		}
		if len(ss.Pixels.Mean) != 3 || ss.Pixels.Mean[2] < 0.45 || ss.Pixels.Mean[2] > 0.55 {
			t.Errorf("%s: got blue mean %v, want about 128/255", ss.Name, ss.Pixels.Mean)
		}
	}
	if len(st.Duplicates) != 0 || !st.KeysStored {
		t.Errorf("got duplicates %v (keys stored %v), want none", st.Duplicates, st.KeysStored)
	}
}

// TestVerifyV1SHA256 verifies a dataset written before shards had a
// CRC-32C: its manifest records only SHA-256, which Verify checks.
func TestVerifyV1SHA256(t *testing.T) {
	dir := t.TempDir()
	eachFile(t, filepath.Join("testdata", "v1-sha256"), func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(dir, name), data, 0o644)
	})
	d, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range d.Manifest.Splits[0].Shards {
		if sh.CRC32C != "" || sh.SHA256 == "" {
			t.Fatalf("fixture shard %s: crc32c %q sha256 %q, want only sha256", sh.File, sh.CRC32C, sh.SHA256)
		}
	}
	r, err := Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Records != 2 {
		t.Fatalf("got %+v, want ok with 2 records", r)
	}

	// A changed byte: the recorded SHA-256 no longer matches.
	r, checks := verifyFlipped(t, dir, "train-00000-of-00002.tfrecord", func(size int) int { return size - 1 })
	if !checks["sha256"] {
		t.Errorf("got %v, want a sha256 discrepancy", r.Discrepancies)
	}
}

// TestWrittenChecksums checks that written shards record the CRC-32C of
// their bytes (and their SHA-256 only on request), and that Verify compares
// every checksum recorded.
func TestWrittenChecksums(t *testing.T) {
	for _, withSHA := range []bool{false, true} {
		t.Run(fmt.Sprintf("sha256=%t", withSHA), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			a := sampleAssemblyWith(t, dir, func(w *ShardWriter) { w.SHA256 = withSHA })
			m, err := a.Commit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range m.Splits {
				for _, sh := range sp.Shards {
					data, err := os.ReadFile(filepath.Join(dir, sh.File))
					if err != nil {
						t.Fatal(err)
					}
					if want := FormatCRC32C(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))); sh.CRC32C != want {
						t.Errorf("%s: crc32c %q, want %q", sh.File, sh.CRC32C, want)
					}
					sum := sha256.Sum256(data)
					if want := map[bool]string{true: hex.EncodeToString(sum[:])}[withSHA]; sh.SHA256 != want {
						t.Errorf("%s: sha256 %q, want %q", sh.File, sh.SHA256, want)
					}
				}
			}
			// The last record's footer: framing, crc32c, sha256.
			r, checks := verifyFlipped(t, dir, "validation-00000-of-00002.tfrecord", func(size int) int { return size - 1 })
			if !checks["crc32c"] || checks["sha256"] != withSHA {
				t.Errorf("got %v, want a crc32c discrepancy and a sha256 one only if recorded", r.Discrepancies)
			}
		})
	}
}

// verifyFlipped inverts the byte at(size) of file in dir, verifies the
// dataset and returns the report and the checks that found discrepancies.
func verifyFlipped(t *testing.T, dir, file string, at func(size int) int) (*VerifyReport, map[string]bool) {
	t.Helper()
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[at(len(data))] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{}
	for _, d := range r.Discrepancies {
		checks[d.Check] = true
	}
	return r, checks
}

// TestVerifyChecksumsLocal checks VerifyChecksums on local disk, where it
// reads each shard once: a written dataset, one with a changed byte, and
// the SHA-256-only fixture of the previous format.
func TestVerifyChecksumsLocal(t *testing.T) {
	ctx := context.Background()
	dir, _ := writeSample(t, tfrecord.None, false)
	r, err := VerifyChecksums(ctx, dir, true)
	if err != nil || !r.OK || r.Shards != 4 || r.Records != 6 {
		t.Fatalf("got %+v, %v; want ok with 4 shards of 6 records", r, err)
	}
	path := filepath.Join(dir, "train-00001-of-00002.tfrecord")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = VerifyChecksums(ctx, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for _, d := range r.Discrepancies {
		checks = append(checks, d.File+" "+d.Check)
	}
	if want := []string{"train-00001-of-00002.tfrecord bytes", "train-00001-of-00002.tfrecord crc32c"}; !slices.Equal(checks, want) {
		t.Errorf("got %v, want %v", checks, want)
	}

	if r, err := VerifyChecksums(ctx, filepath.Join("testdata", "v1-sha256"), true); err != nil || !r.OK || r.Records != 2 {
		t.Errorf("sha256-only fixture: got %+v, %v; want ok with 2 records", r, err)
	}
}

// eachFile calls fn with the name and contents of every file of the local
// directory dir.
func eachFile(t *testing.T, dir string, fn func(name string, data []byte) error) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(e.Name(), data); err != nil {
			t.Fatal(err)
		}
	}
}

// pureGo is how a pure-Go build names its decoder.
const pureGo = "image/jpeg go1.26.0 (pure Go)"

func TestShardDecoders(t *testing.T) {
	dir, m := writeSample(t, tfrecord.None, false)
	if m.Decoder != imageprep.DecoderName() || m.Decoders != nil {
		t.Errorf("got decoder %q, decoders %q, want %q alone", m.Decoder, m.Decoders, imageprep.DecoderName())
	}
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			want := imageprep.DecoderName()
			if sh.Records == 0 {
				want = "" // nothing decoded
			}
			if sh.Decoder != want {
				t.Errorf("%s: got decoder %q, want %q", sh.File, sh.Decoder, want)
			}
		}
	}
	r, err := Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || (len(r.Notes) > 0) == imageprep.PILIdentical {
		t.Errorf("got ok %v (%v), notes %q; want ok, and a note only for a pure-Go build", r.OK, r.Discrepancies, r.Notes)
	}

	// A shard written by a pure-Go worker: the manifest says "mixed" and
	// lists both, and verify notes that shard without failing: the manifest
	// tells the truth.
	dir = filepath.Join(t.TempDir(), "out")
	a := sampleAssembly(t, dir, tfrecord.None, false, false, 2)
	res := a.shards["train/00001"]
	res.Decoder = pureGo
	a.shards["train/00001"] = res
	m, err = a.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{imageprep.DecoderName(), pureGo}
	slices.Sort(want)
	if m.Decoder != DecoderMixed || !slices.Equal(m.Decoders, want) {
		t.Errorf("got decoder %q, decoders %q, want mixed %q", m.Decoder, m.Decoders, want)
	}
	if m.Splits[0].Shards[1].Decoder != pureGo {
		t.Errorf("got shard decoder %q, want %q", m.Splits[0].Shards[1].Decoder, pureGo)
	}
	r, err = Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		t.Errorf("a manifest that tells the truth about its decoders failed: %v", r.Discrepancies)
	}
	if !imageprep.PILIdentical {
		return // every shard is approximate: TestShardDecoders checks the note
	}
	wantNote := "1 shard made by " + pureGo + " (first train-00001-of-00002.tfrecord)"
	if len(r.Notes) != 1 || !strings.HasPrefix(r.Notes[0], wantNote) || !strings.Contains(r.Notes[0], "libjpeg-turbo") {
		t.Errorf("got notes %q, want one starting %q and naming libjpeg-turbo", r.Notes, wantNote)
	}
	var text strings.Builder
	r.WriteText(&text)
	if !strings.Contains(text.String(), "note: "+wantNote) {
		t.Errorf("the report text lacks the note:\n%s", text.String())
	}
}

func TestVerifyDecoderUntrue(t *testing.T) {
	for name, edit := range map[string]func(*Manifest){
		"one decoder, not the shards'": func(m *Manifest) { m.Decoder = "libjpeg-turbo 9.9.9 (cgo)" },
		"mixed, shards agree":          func(m *Manifest) { m.Decoder, m.Decoders = DecoderMixed, []string{"a", "b"} },
	} {
		t.Run(name, func(t *testing.T) {
			dir, m := writeSample(t, tfrecord.None, false)
			edit(m)
			if err := WriteManifest(dir, m); err != nil {
				t.Fatal(err)
			}
			r, err := Verify(context.Background(), dir, true)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range r.Discrepancies {
				found = found || d.File == ManifestName && d.Check == "decoder" && strings.Contains(d.Detail, imageprep.DecoderName())
			}
			if !found || r.OK {
				t.Errorf("got %v, want a decoder discrepancy of dataset.json naming %q", r.Discrepancies, imageprep.DecoderName())
			}
		})
	}
}
