package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register(&Command{
		Name:  "cat",
		Args:  "[--limit N] [--full] FILE",
		Short: "print the records of a TFRecord file as JSON lines",
		Long: `Cat prints one JSON object per record of a TFRecord file (uncompressed, GZIP or ZLIB):

  {"record":0,"offset":0,"features":{"label":{"kind":"int64_list","values":[3]}, ...}}

"offset" is where the record starts in the (uncompressed) stream. Features are in the order
the record stores them. "kind" is bytes_list, float_list, int64_list, or none for a Feature
with no list set (TensorFlow reads it as an empty list). Values are shown as:

  bytes   a JSON string when the value is valid, printable UTF-8 of at most 64 bytes;
          otherwise {"len":N,"sha256":"<first 16 hex digits>"} plus "format" ("jpeg",
          "png", "gif") when the bytes start like an image. With --full, every printable
          string in full and other bytes as {"len":N,"base64":"..."}.
  float   JSON numbers, shortest form that reads back as the same float32; NaN and
          infinities, which JSON lacks, as the strings "NaN", "Infinity", "-Infinity".
  int64   JSON numbers, exact.

A record that is not a tf.train.Example (one that does not parse, or has no features) is
{"record":i,"offset":o,"raw_len":N,"raw_base64":"..."}; without --full a raw record over
64 bytes shows "raw_sha256" and its first 32 bytes as "raw_hex_prefix" instead.

A damaged record ends the output with an error naming file:offset (record N), exit 1.

Examples:
  tfprep cat --limit 2 out/train-00000-of-00004.tfrecord
  tfprep cat data.tfrecord.gz | jq -c '.features.label.values'
  tfprep cat --full --limit 1 flowers.tfrecord | jq -r '.features.image_raw.values[0].base64' | base64 -d > first.jpg`,
		Flags: func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
			limit := fs.Int("limit", 0, "print at most `N` records (0: all)")
			full := fs.Bool("full", false, "print every bytes value in full (base64 when not printable)")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) != 1 {
					return usagef("want one FILE, got %d arguments", len(args))
				}
				if *limit < 0 {
					return usagef("--limit %d: want 0 (all) or more", *limit)
				}
				return runCat(ctx, env, args[0], *limit, *full)
			}
		},
	})
}

// Values up to this many bytes are shown whole without --full.
const (
	catShortString = 64
	catRawPrefix   = 32
)

func runCat(ctx context.Context, env *Env, path string, limit int, full bool) error {
	f, err := tfrecord.Open(path, &tfrecord.ReaderOptions{ReuseBuffer: true})
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
		line = appendCatRecord(line[:0], f.Index()-1, offset, rec, &parsed, full)
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	return out.Flush()
}

// appendCatRecord appends one record's JSON line. JSON objects are written
// by hand to keep the features in wire order.
func appendCatRecord(b []byte, index, offset int64, rec []byte, parsed *example.Parsed, full bool) []byte {
	b = fmt.Appendf(b, `{"record":%d,"offset":%d,`, index, offset)
	if example.ParseInto(parsed, rec, true) != nil || len(parsed.Features) == 0 {
		b = fmt.Appendf(b, `"raw_len":%d,`, len(rec))
		if full || len(rec) <= catShortString {
			b = fmt.Appendf(b, `"raw_base64":%q}`, base64.StdEncoding.EncodeToString(rec))
		} else {
			sum := sha256.Sum256(rec)
			b = fmt.Appendf(b, `"raw_sha256":%q,"raw_hex_prefix":%q}`, hex.EncodeToString(sum[:8]), hex.EncodeToString(rec[:catRawPrefix]))
		}
		return append(b, '\n')
	}
	b = append(b, `"features":{`...)
	for i, f := range parsed.Features {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = fmt.Appendf(b, `:{"kind":%q,"values":[`, f.Kind)
		for j := range f.Len() {
			if j > 0 {
				b = append(b, ',')
			}
			switch f.Kind {
			case example.BytesKind:
				b = appendCatBytes(b, f.Bytes[j], full)
			case example.FloatKind:
				b = appendCatFloat(b, f.Floats[j])
			case example.Int64Kind:
				b = strconv.AppendInt(b, f.Int64s[j], 10)
			}
		}
		b = append(b, "]}"...)
	}
	return append(b, "}}\n"...)
}

// appendJSONString appends s as a JSON string, without escaping <, > and &
// as encoding/json does by default for HTML's sake. Invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

func appendCatBytes(b, v []byte, full bool) []byte {
	if (full || len(v) <= catShortString) && printable(v) {
		return appendJSONString(b, string(v))
	}
	if full {
		return fmt.Appendf(b, `{"len":%d,"base64":%q}`, len(v), base64.StdEncoding.EncodeToString(v))
	}
	sum := sha256.Sum256(v)
	b = fmt.Appendf(b, `{"len":%d,"sha256":%q`, len(v), hex.EncodeToString(sum[:8]))
	if format := imageFormat(v); format != "" {
		b = fmt.Appendf(b, `,"format":%q`, format)
	}
	return append(b, '}')
}

// printable reports whether v is UTF-8 text without control characters
// (tabs and newlines allowed), so that a JSON string shows it faithfully.
func printable(v []byte) bool {
	if !utf8.Valid(v) {
		return false
	}
	for _, r := range string(v) {
		if !unicode.IsPrint(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// imageFormat names the image format v starts like, if any.
func imageFormat(v []byte) string {
	switch {
	case bytes.HasPrefix(v, []byte{0xff, 0xd8, 0xff}):
		return "jpeg"
	case bytes.HasPrefix(v, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(v, []byte("GIF87a")), bytes.HasPrefix(v, []byte("GIF89a")):
		return "gif"
	}
	return ""
}

// appendCatFloat writes the shortest decimal that reads back as v, or a
// string for what JSON cannot represent.
func appendCatFloat(b []byte, v float32) []byte {
	switch {
	case math.IsNaN(float64(v)):
		return append(b, `"NaN"`...)
	case math.IsInf(float64(v), 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(float64(v), -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
}
