package dataset

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
	path := filepath.Join(dir, "train-00001-of-00002.tfrecord")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{}
	for _, d := range r.Discrepancies {
		if d.File != "train-00001-of-00002.tfrecord" {
			t.Errorf("discrepancy in %s, want only the damaged shard: %v", d.File, d)
		}
		checks[d.Check] = true
	}
	if !checks["crc"] || !checks["sha256"] || r.OK {
		t.Errorf("got %v, want crc and sha256 discrepancies", r.Discrepancies)
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
