package imageprep

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"
	"time"
)

// zeroPNG writes a w x h 8-bit RGB PNG of zeros row by row, so that making a 9999x9999 one costs
// its ~300 KB of compressed bytes, not the 300 MB it decodes to.
func zeroPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var out bytes.Buffer
	chunk := func(kind string, data []byte) {
		binary.Write(&out, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(kind))
		crc.Write(data)
		out.WriteString(kind)
		out.Write(data)
		binary.Write(&out, binary.BigEndian, crc.Sum32())
	}
	out.Write(pngMagic)
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2 // 8-bit truecolour
	chunk("IHDR", ihdr)
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	row := make([]byte, 1+w*3) // filter byte 0, then zeros
	for range h {
		zw.Write(row)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// allocated is the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeBytesLimit: issue 11 item 5. A 9999x9999 PNG of zeros (under the 100 Mpx limit, ~300 KB)
// used to cost 1.97 GB; it is refused before any pixel buffer exists, with a TooLarge error naming
// the image and its size.
func TestDecodeBytesLimit(t *testing.T) {
	data := zeroPNG(t, 9999, 9999)
	p, err := NewProcessor(Options{Width: 128, Height: 128})
	if err != nil {
		t.Fatal(err)
	}
	var perr error
	n := allocated(func() { _, perr = p.Process("zeros.png", data, nil) })
	var e *Error
	if !errors.As(perr, &e) || e.Kind != TooLarge || !errors.Is(perr, ErrTooLarge) {
		t.Fatalf("got %v, want an *Error of kind TooLarge", perr)
	}
	for _, want := range []string{"zeros.png", "9999x9999", "MaxDecodeBytes"} {
		if !strings.Contains(perr.Error(), want) {
			t.Errorf("error %q does not name %q", perr, want)
		}
	}
	if n > 1<<20 {
		t.Errorf("refusing it allocated %d bytes, want < 1 MiB", n)
	}
}

// TestDecodeBytesBound: what an admitted whole-image decode allocates stays within what it
// reserved (plus image/png's per-row and zlib buffers), and a large buffer is not kept afterwards.
func TestDecodeBytesBound(t *testing.T) {
	const w, h = 1500, 1000
	data := zeroPNG(t, w, h)
	reserved := int64(w * h * (4 + 3)) // image/png's RGBA, then our RGB
	for _, opts := range []Options{
		{Width: 128, Height: 128},
		{Width: 128, Height: 128, MaxDecodeBytes: reserved},
	} {
		p, err := NewProcessor(opts)
		if err != nil {
			t.Fatal(err)
		}
		var perr error
		n := allocated(func() { _, perr = p.Process("zeros.png", data, nil) })
		if perr != nil {
			t.Fatal(perr)
		}
		if limit := uint64(reserved) + 1<<20; n > limit {
			t.Errorf("MaxDecodeBytes %d: allocated %d bytes, want <= %d", opts.MaxDecodeBytes, n, limit)
		}
		if budget.used != 0 {
			t.Errorf("budget still holds %d bytes after Process", budget.used)
		}
	}
	p, _ := NewProcessor(Options{Width: 128, Height: 128, MaxDecodeBytes: reserved - 1})
	if _, err := p.Process("zeros.png", data, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("one byte under the need: got %v, want ErrTooLarge", err)
	}
	p, _ = NewProcessor(Options{})
	if _, err := p.Process("zeros.png", zeroPNG(t, 3000, 2000), nil); err != nil {
		t.Fatal(err)
	}
	if cap(p.converted) > retainBytes {
		t.Errorf("kept a %d-byte buffer after the image, want at most %d", cap(p.converted), retainBytes)
	}
}

// TestDecodeBudgetWaits: decodes that together exceed the process budget run one after another.
func TestDecodeBudgetWaits(t *testing.T) {
	b := &decodeBudget{limit: 100}
	b.cond = newCond(b)
	first := b.acquire(80)
	done := make(chan int64)
	go func() { done <- b.acquire(50) }()
	select {
	case <-done:
		t.Fatal("second decode admitted while the first holds 80 of 100 bytes")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(first)
	second := <-done
	if second != 50 {
		t.Errorf("got %d bytes, want 50", second)
	}
	b.release(second)
	if got := b.acquire(500); got != 100 { // more than the budget: runs alone, holding all of it
		t.Errorf("got %d, want the whole budget of 100", got)
	}
}
