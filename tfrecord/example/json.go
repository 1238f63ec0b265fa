package example

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// ShortBytes is the length up to which AppendJSON shows a printable bytes
// value whole without full.
const ShortBytes = 64

// AppendJSON appends p's features to b as one JSON object, in the order the
// record stores them (a map would lose it):
//
//	{"label":{"kind":"int64_list","values":[3]},"image":{"kind":"bytes_list","values":[{"len":12288,"sha256":"..."}]}}
//
// "kind" is bytes_list, float_list, int64_list, or none for a Feature with
// no list set. Bytes values are JSON strings when they are printable UTF-8
// of at most ShortBytes bytes, otherwise {"len":N,"sha256":"<first 16 hex
// digits>"} plus "format" ("jpeg", "png", "gif") when they start like an
// image; with full, every printable string in full and other bytes as
// {"len":N,"base64":"..."}. Floats are the shortest decimal that reads back
// as the same float32, NaN and infinities the strings "NaN", "Infinity",
// "-Infinity"; int64s are exact.
func (p *Parsed) AppendJSON(b []byte, full bool) []byte {
	b = append(b, '{')
	for i, f := range p.Features {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, f.Name)
		b = fmt.Appendf(b, `:{"kind":%q,"values":[`, f.Kind)
		for j := range f.Len() {
			if j > 0 {
				b = append(b, ',')
			}
			switch f.Kind {
			case BytesKind:
				b = appendJSONBytes(b, f.Bytes[j], full)
			case FloatKind:
				b = appendJSONFloat(b, f.Floats[j])
			case Int64Kind:
				b = strconv.AppendInt(b, f.Int64s[j], 10)
			}
		}
		b = append(b, "]}"...)
	}
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string, without escaping <, > and &
// as encoding/json does by default for HTML's sake. Invalid UTF-8 becomes
// U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

func appendJSONBytes(b, v []byte, full bool) []byte {
	if (full || len(v) <= ShortBytes) && printable(v) {
		return AppendJSONString(b, string(v))
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

// appendJSONFloat writes the shortest decimal that reads back as v, or a
// string for what JSON cannot represent.
func appendJSONFloat(b []byte, v float32) []byte {
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
