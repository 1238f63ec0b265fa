package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// ErrNoSplit: a split name the manifest does not have.
var ErrNoSplit = errors.New("dataset: unknown split")

// Dataset is a converted dataset opened for reading: its manifest, the spec
// embedded in it and where its files are.
type Dataset struct {
	// Location is the dataset directory as given to Open.
	Location string
	// Manifest is dataset.json, validated.
	Manifest *Manifest
	// Spec is the spec the dataset was written with (Manifest.Spec).
	Spec *schema.Spec

	store storage
}

// ShardFile is one shard of a split, located.
type ShardFile struct {
	Shard
	// Split is the name of the shard's split.
	Split string
	// Path is the shard's full path: Location joined with Shard.File.
	Path string
}

// Open reads location/dataset.json, validates it and parses the spec it
// embeds. location is a directory; a dataset without the manifest is an
// error wrapping fs.ErrNotExist (the conversion did not finish).
func Open(ctx context.Context, location string) (*Dataset, error) {
	store, err := storageFor(location)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(ctx, store, location)
	if err != nil {
		return nil, err
	}
	spec, err := schema.Parse(m.Spec, "json", joinPath(location, ManifestName)+": spec")
	if err != nil {
		return nil, err
	}
	return &Dataset{Location: location, Manifest: m, Spec: spec, store: store}, nil
}

// IsDataset reports whether location holds a manifest, that is a finished
// conversion (which may still be damaged).
func IsDataset(ctx context.Context, location string) bool {
	store, err := storageFor(location)
	if err != nil {
		return false
	}
	_, err = store.Size(ctx, joinPath(location, ManifestName))
	return err == nil
}

// Shards returns the shards of the named splits, all splits when none is
// named, in manifest order. An unknown split name is an error wrapping
// ErrNoSplit.
func (d *Dataset) Shards(splits ...string) ([]ShardFile, error) {
	m := d.Manifest
	if len(splits) == 0 {
		splits = m.SplitNames()
	}
	var out []ShardFile
	for _, name := range splits {
		sp := m.Split(name)
		if sp == nil {
			return nil, fmt.Errorf("%w: %s: no split %q (have %s)", ErrNoSplit, d.Location, name, strings.Join(m.SplitNames(), ", "))
		}
		for _, sh := range sp.Shards {
			out = append(out, ShardFile{Shard: sh, Split: sp.Name, Path: joinPath(d.Location, sh.File)})
		}
	}
	return out, nil
}

// CheckSizes checks that every shard of the named splits (all when none is
// named) exists with the size the manifest records.
func (d *Dataset) CheckSizes(ctx context.Context, splits ...string) error {
	shards, err := d.Shards(splits...)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		size, err := d.store.Size(ctx, sh.Path)
		if err != nil {
			return fmt.Errorf("dataset: %w", err)
		}
		if size != sh.Bytes {
			return fmt.Errorf("dataset: %s: %d bytes, the manifest says %d", sh.Path, size, sh.Bytes)
		}
	}
	return nil
}

// ShardDamage is a byte range of a shard that could not be read.
type ShardDamage struct {
	Shard string // base name of the shard file
	// Damage is the range; Length -1 means from Offset to the end of the
	// shard (a broken stream, such as a damaged compressed one, that the
	// reader cannot step over).
	tfrecord.Damage
}

func (d ShardDamage) String() string {
	if d.Length < 0 {
		return fmt.Sprintf("%s: from byte %d to the end: %v", d.Shard, d.Offset, d.Err)
	}
	return fmt.Sprintf("%s: bytes %d..%d: %v", d.Shard, d.Offset, d.Offset+d.Length, d.Err)
}

// MarshalJSON writes {"shard", "offset", "length", "reason"}.
func (d ShardDamage) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Shard  string `json:"shard"`
		Offset int64  `json:"offset"` // uncompressed stream offset
		Length int64  `json:"length"` // -1: up to the end of the shard
		Reason string `json:"reason"`
	}{d.Shard, d.Offset, d.Length, d.Err.Error()})
}

// Scan calls fn with every record of a shard, numbered from 0, in file
// order; the slice is valid only until fn returns. Damaged byte ranges are
// skipped and returned rather than ending the scan. An error from fn stops the
// scan and is returned, as is a failure to open the shard.
func (d *Dataset) Scan(ctx context.Context, sh ShardFile, fn func(index int64, record []byte) error) ([]ShardDamage, error) {
	f, err := d.store.Open(ctx, sh.Path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	tr, err := newShardReader(f, sh.File)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", sh.Path, err)
	}
	return scan(ctx, tr, sh.File, sh.Path, fn)
}

// newShardReader reads the TFRecord stream of the shard named name from r,
// recovering from damage.
func newShardReader(r io.Reader, name string) (*tfrecord.Reader, error) {
	return tfrecord.NewReader(r, &tfrecord.ReaderOptions{Compression: tfrecord.CompressionFromName(name), ReuseBuffer: true, Recover: true})
}

// scan is the shard scanner: it calls fn with every record tr reads from the
// shard named name and returns the damage tr met. When path is not empty,
// the damage's record errors name it.
func scan(ctx context.Context, tr *tfrecord.Reader, name, path string, fn func(index int64, record []byte) error) ([]ShardDamage, error) {
	located := func(d tfrecord.Damage) ShardDamage {
		var re *tfrecord.RecordError
		if path != "" && errors.As(d.Err, &re) && re.Path == "" {
			re.Path = path
		}
		return ShardDamage{Shard: name, Damage: d}
	}
	var broken []ShardDamage
	for index := int64(0); ; index++ {
		if index%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A recovering reader fails only where it cannot step over the
			// damage: the rest of the shard is lost.
			broken = append(broken, located(tfrecord.Damage{Offset: tr.Offset(), Length: -1, Err: err}))
			break
		}
		if err := fn(index, rec); err != nil {
			return nil, err
		}
	}
	var damage []ShardDamage
	for _, dmg := range tr.Skipped() {
		damage = append(damage, located(dmg))
	}
	return append(damage, broken...), nil
}

// PythonOptions describe the dataset to the tf.data code of its spec
// (schema.Spec.Python): its location, compression and each split's records
// and shard files; inputName is the model input's name.
func (d *Dataset) PythonOptions(inputName string) schema.PythonOptions {
	opts := schema.PythonOptions{Dir: d.Location, Manifest: strings.TrimSuffix(d.Location, "/") + "/" + ManifestName, Compression: d.Manifest.Compression, InputName: inputName}
	for _, split := range d.Manifest.Splits {
		files := make([]string, len(split.Shards))
		for i, shard := range split.Shards {
			files[i] = shard.File
		}
		opts.Splits = append(opts.Splits, schema.PythonSplit{Name: split.Name, Records: split.Records, Files: files})
	}
	return opts
}

// Python returns the tf.data code ("tfprep spec python") for nameOrPath: a
// converted dataset's location, whose compression, splits and record counts
// it adds, or a spec as ResolveSpec takes it. inputName is the model input's
// name.
func Python(ctx context.Context, nameOrPath, inputName string) (string, error) {
	if IsDataset(ctx, nameOrPath) {
		d, err := Open(ctx, nameOrPath)
		if err != nil {
			return "", err
		}
		return d.Spec.Python(d.PythonOptions(inputName))
	}
	s, err := ResolveSpec(ctx, nameOrPath)
	if err != nil {
		return "", err
	}
	return s.Python(schema.PythonOptions{InputName: inputName})
}

// ResolveSpec returns the spec nameOrPath names: a preset or a spec file
// (schema.Resolve), or a dataset directory, whose manifest embeds the spec
// it was written with. Only the manifest's "spec" object is read, so that the
// spec of a damaged dataset can still be shown.
func ResolveSpec(ctx context.Context, nameOrPath string) (*schema.Spec, error) {
	if slices.Contains(schema.PresetNames(), nameOrPath) {
		return schema.Preset(nameOrPath)
	}
	store, err := storageFor(nameOrPath)
	if err != nil {
		return nil, err
	}
	if dir, _ := store.IsDir(ctx, nameOrPath); !dir {
		return schema.Resolve(nameOrPath)
	}
	path := joinPath(nameOrPath, ManifestName)
	data, err := readAll(ctx, store, path)
	if err != nil {
		return nil, err
	}
	var manifest struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, schema.ErrInvalidSpec, err)
	}
	if len(manifest.Spec) == 0 || string(manifest.Spec) == "null" {
		return nil, fmt.Errorf("%s: %w: no \"spec\" object", path, schema.ErrInvalidSpec)
	}
	return schema.Parse(manifest.Spec, "json", path+": spec")
}
