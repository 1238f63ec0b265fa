package example

import (
	"testing"
)

// FuzzParse checks Parse against the generated code: whatever
// proto.Unmarshal accepts, Parse decodes to the same features; whatever
// Parse accepts re-encodes and parses back to the same; and ParseInto over
// a used Parsed gives what Parse gives. The committed seed corpus is in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(AppendExample(nil, seedFeatures()[:1:1]))
	f.Add(AppendExample(nil, []Feature{StringFeature("s", "v"), FloatFeature("f", 1, 2), Int64Feature("i", -1), {Name: "none"}}))
	var reused Parsed
	f.Fuzz(func(t *testing.T, buf []byte) {
		checkAgainstProto(t, buf)
		p, err := Parse(buf, true)
		if err != nil {
			if err := ParseInto(&reused, buf, false); err == nil {
				t.Fatalf("ParseInto accepts what Parse rejects")
			}
			return
		}
		if err := ParseInto(&reused, buf, false); err != nil {
			t.Fatalf("ParseInto: %v, but Parse accepts", err)
		}
		if diff := diffFeatures(p.Features, reused.Features); diff != "" {
			t.Fatalf("ParseInto over a used Parsed differs from Parse (-Parse +ParseInto):\n%s", diff)
		}
		again, err := Parse(AppendExample(nil, p.Features), false)
		if err != nil {
			t.Fatalf("re-encoded Example does not parse: %v", err)
		}
		if diff := diffFeatures(p.Features, again.Features); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}
