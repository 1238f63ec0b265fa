package tfrecord_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

// An implementation of TFRecord framing that shares nothing with the package: a bitwise-
// derived CRC-32C table (not hash/crc32) and its own frame parser. Files the Writer produces
// must parse with it, which is what other TFRecord readers (TensorFlow's C++ reader, DALI,
// Beam) do.

var independentTable = func() (table [256]uint32) {
	const reflectedCastagnoli = 0x82f63b78
	for i := range table {
		crc := uint32(i)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ reflectedCastagnoli
			} else {
				crc >>= 1
			}
		}
		table[i] = crc
	}
	return table
}()

func independentCRC32C(b []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range b {
		crc = independentTable[byte(crc)^c] ^ crc>>8
	}
	return ^crc
}

func independentMask(crc uint32) uint32 { return (crc>>15 | crc<<17) + 0xa282ead8 }

// independentParse splits an uncompressed TFRecord stream into records, checking every CRC.
func independentParse(stream []byte) ([][]byte, error) {
	var records [][]byte
	for offset := 0; offset < len(stream); {
		if len(stream)-offset < 12 {
			return nil, fmt.Errorf("offset %d: %d bytes left, want a 12-byte header", offset, len(stream)-offset)
		}
		lengthBytes := stream[offset : offset+8]
		if got, want := binary.LittleEndian.Uint32(stream[offset+8:]), independentMask(independentCRC32C(lengthBytes)); got != want {
			return nil, fmt.Errorf("offset %d: length crc %#x, want %#x", offset, got, want)
		}
		n := binary.LittleEndian.Uint64(lengthBytes)
		if n > uint64(len(stream)-offset-16) {
			return nil, fmt.Errorf("offset %d: length %d overruns the stream", offset, n)
		}
		data := stream[offset+12 : offset+12+int(n)]
		if got, want := binary.LittleEndian.Uint32(stream[offset+12+int(n):]), independentMask(independentCRC32C(data)); got != want {
			return nil, fmt.Errorf("offset %d: data crc %#x, want %#x", offset, got, want)
		}
		records = append(records, data)
		offset += 16 + int(n)
	}
	return records, nil
}

func TestIndependentCRC32CCheckValue(t *testing.T) {
	// The standard check value of CRC-32C (RFC 3720, B.4): the CRC of "123456789".
	if got, want := independentCRC32C([]byte("123456789")), uint32(0xe3069283); got != want {
		t.Fatalf("independent CRC-32C of 123456789 = %#x, want %#x", got, want)
	}
}

func TestWriterOutputParsesIndependently(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 7, 8, 100, 4096, 32767, 32768, 65535, 65536, 196608, 300000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var want [][]byte
			for range 3 {
				record := make([]byte, size)
				for i := range record {
					record[i] = byte(rng.Uint32())
				}
				want = append(want, record)
			}
			stream := encode(t, nil, want...)
			got, err := independentParse(stream)
			if err != nil {
				t.Fatalf("independent parser rejects the Writer's output: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("independent parser found %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("record %d differs", i)
				}
			}
		})
	}
}

// encode writes records with a fresh Writer and returns the bytes it produced.
func encode(t testing.TB, opts *tfrecord.WriterOptions, records ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := tfrecord.NewWriter(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAll reads every record; it returns the records read before the error that ended it.
func readAll(t testing.TB, data []byte, opts *tfrecord.ReaderOptions) ([][]byte, *tfrecord.Reader, error) {
	t.Helper()
	r, err := tfrecord.NewReader(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	for {
		rec, err := r.Next()
		if err != nil {
			return records, r, err
		}
		records = append(records, bytes.Clone(rec))
	}
}

// numbered returns n small distinct records.
func numbered(n int) [][]byte {
	var records [][]byte
	for i := range n {
		records = append(records, []byte(fmt.Sprintf("record number %d", i)))
	}
	return records
}
