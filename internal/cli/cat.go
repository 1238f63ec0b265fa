package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register(&Command{
		Name:  "cat",
		Args:  "[--limit N] [--full] [--spec SPEC | --raw] FILE",
		Short: "print the records of a TFRecord file as JSON lines",
		Long: `Cat prints one JSON object per record of a TFRecord file (uncompressed, GZIP or ZLIB; a
local path, gs:// or s3:// URL); "offset" is where the record starts in the uncompressed stream.

Beside a dataset.json, or with --spec (preset, spec file or dataset directory), Examples are
decoded by the spec: the key; the image as the tensor it decodes to (stored floats, or pixels
0..255 for uint8, png, jpeg): its shape, min, max and mean; each label's vector and the names
of the labels set. A record that does not fit the spec is shown raw with "spec_error":

  {"record":0,"offset":0,"key":"train_0","image":{"feature":"image","encoding":"float32",
   "bytes":196608,"shape":[128,128,3],"min":0,"max":1,"mean":0.41},"labels":[{"feature":
   "weather_labels","values":[0,0,1,0],"names":["haze"]}, ...]}

Otherwise, or with --raw, features are shown as stored, in the record's order, each with its
kind (bytes_list, float_list, int64_list, or none for a Feature with no list set):

  {"record":0,"offset":0,"features":{"label":{"kind":"int64_list","values":[3]}, ...}}

bytes: a string when printable UTF-8 of at most 64 bytes, else {"len":N,"sha256":"<16 hex>"}
(+ "format": jpeg, png, gif); --full: all strings, others {"len":N,"base64":...}. float: the
shortest number that reads back as the same float32 ("NaN", "Infinity"). int64: exact.
A non-Example record is {"record":i,"offset":o,"raw_len":N,"raw_base64":...} (without --full,
over 64 bytes: "raw_sha256", "raw_hex_prefix"). A damaged record ends the output with an
error naming file:offset (record N), exit 1.

Examples:
  tfprep cat --limit 2 out/train-00000-of-00004.tfrecord
  tfprep cat --raw data.tfrecord.gz | jq -c '.features.label.values'
  tfprep cat --spec planet gs://bucket/planet/train-00000-of-00004.tfrecord | jq -c '.labels'
  tfprep cat --full --limit 1 flowers.tfrecord | jq -r '.features.image_raw.values[0].base64' | base64 -d > first.jpg`,
		Flags: func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
			limit := fs.Int("limit", 0, "print at most `N` records (0: all)")
			full := fs.Bool("full", false, "print every bytes value in full (base64 when not printable)")
			specArg := fs.String("spec", "", "decode Examples by this spec: preset, spec file or dataset directory (default: the dataset's beside FILE, if any)")
			raw := fs.Bool("raw", false, "show features as stored, even beside a dataset.json")
			return func(ctx context.Context, env *Env, args []string) error {
				switch {
				case len(args) != 1:
					return usagef("want one FILE, got %d arguments", len(args))
				case *limit < 0:
					return usagef("--limit %d: want 0 (all) or more", *limit)
				case *raw && *specArg != "":
					return usagef("--raw and --spec exclude each other")
				}
				var spec *schema.Spec
				if !*raw {
					var err error
					if spec, err = dataset.SpecFor(ctx, args[0], *specArg); err != nil {
						return err
					}
				}
				return runCat(ctx, env, args[0], *limit, *full, spec)
			}
		},
	})
}

// Raw records up to this many bytes are shown whole without --full.
const catRawPrefix = 32

func runCat(ctx context.Context, env *Env, path string, limit int, full bool, spec *schema.Spec) error {
	f, err := dataset.OpenRecords(ctx, path, &tfrecord.ReaderOptions{ReuseBuffer: true})
	if err != nil {
		return err
	}
	defer f.Close()
	out := bufio.NewWriter(env.Stdout)
	var (
		parsed example.Parsed
		line   []byte
	)
	for limit == 0 || f.Index() < int64(limit) {
		if err := ctx.Err(); err != nil {
			out.Flush()
			return err
		}
		offset := f.Offset()
		rec, err := f.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// What was read before the damage is shown.
			out.Flush()
			return recordProblem(path, err)
		}
		line = appendCatRecord(line[:0], f.Index()-1, offset, rec, &parsed, full, spec)
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	return out.Flush()
}

// appendCatRecord appends one record's JSON line: decoded by spec when it
// is not nil and the record fits it, else the features as stored (in wire
// order), else the raw bytes.
func appendCatRecord(b []byte, index, offset int64, rec []byte, parsed *example.Parsed, full bool, spec *schema.Spec) []byte {
	b = fmt.Appendf(b, `{"record":%d,"offset":%d,`, index, offset)
	if example.ParseInto(parsed, rec, true) != nil || len(parsed.Features) == 0 {
		b = fmt.Appendf(b, `"raw_len":%d,`, len(rec))
		if full || len(rec) <= example.ShortBytes {
			b = fmt.Appendf(b, `"raw_base64":%q}`, base64.StdEncoding.EncodeToString(rec))
		} else {
			sum := sha256.Sum256(rec)
			b = fmt.Appendf(b, `"raw_sha256":%q,"raw_hex_prefix":%q}`, hex.EncodeToString(sum[:8]), hex.EncodeToString(rec[:catRawPrefix]))
		}
		return append(b, '\n')
	}
	if spec != nil {
		d, err := spec.Describe(*parsed)
		var described []byte
		if err == nil {
			described, err = json.Marshal(d) // fails on NaN
		}
		if err == nil {
			return append(append(b, described[1:]...), '\n')
		}
		b = append(example.AppendJSONString(append(b, `"spec_error":`...), err.Error()), ',')
	}
	b = parsed.AppendJSON(append(b, `"features":`...), full)
	return append(b, "}\n"...)
}
