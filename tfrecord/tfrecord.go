// Package tfrecord reads and writes TFRecord files, the record framing TensorFlow uses for
// tf.data.TFRecordDataset, tf.io.TFRecordWriter and Apache Beam's WriteToTFRecord.
//
// # Wire format
//
// A TFRecord stream is a sequence of records and nothing else: no file header, no trailer,
// no padding. Each record is
//
//	uint64  length          little-endian byte count of data
//	uint32  length_crc      masked CRC-32C of the 8 length bytes, little-endian
//	byte    data[length]    the payload, usually a serialized tf.train.Example
//	uint32  data_crc        masked CRC-32C of data, little-endian
//
// so a record occupies length+16 bytes. CRC-32C is the Castagnoli polynomial (hash/crc32's
// Castagnoli table). The stored checksums are masked so that a CRC of data that itself
// contains CRCs does not degrade:
//
//	masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8   (uint32 arithmetic)
//
// The length is checked against its own CRC before it is trusted: a damaged length field is
// reported as corruption, never used to size an allocation.
//
// # Compression
//
// TensorFlow's compression_type "GZIP" and "ZLIB" compress the whole framed stream, not
// individual records: a GZIP TFRecord file is an ordinary gzip file whose content is an
// uncompressed TFRecord stream. compress/gzip and compress/zlib produce and consume exactly
// these streams. A Reader with Compression Auto sniffs the first bytes: a valid record
// header means an uncompressed stream (so a first record of, say, 376 bytes, whose length
// begins 78 01 like a zlib header, is not mistaken for one); otherwise 1f 8b means gzip and
// a zlib header (78 01, 78 5e, 78 9c or 78 da, with a valid FCHECK) means zlib.
// [CompressionFromName] maps file suffixes (.gz, .gzip, .zz, .zlib) for writers and for
// callers who prefer to trust names.
//
// Every offset this package reports — [Reader.Offset], [RecordError.Offset],
// [Damage.Offset], [Writer.Offset], [IndexEntry.Offset] — is a byte offset in the
// uncompressed framed stream. For compressed files that is an offset into the
// decompressed content, not into the file.
//
// # Index sidecars
//
// NVIDIA DALI's readers need an index of an uncompressed TFRecord file: a text file with one
// line per record, "offset length\n", both decimal, where offset is where the record's
// header starts and length is the whole framed record (data length + 16). That is what
// DALI's tools/tfrecord2idx writes. [Writer] produces it as it goes when
// [WriterOptions.Index] is set, [BuildIndex] produces it from an existing file,
// [ReadIndex] and [WriteIndex] parse and print it, and [SeekReader] uses it to read record i
// directly from an io.ReaderAt. A compressed stream cannot be indexed this way, so asking a
// Writer for both is an error.
//
// # Memory ownership
//
// [Writer.Write] does not retain the record it is given. By default every slice returned by
// [Reader.Next] and [SeekReader.ReadRecord] is freshly allocated and belongs to the caller.
// With [ReaderOptions.ReuseBuffer] the returned slice aliases an internal buffer and is valid
// only until the next call; in steady state reading then allocates nothing.
//
// # Errors
//
// Reading stops at the first problem, and the error is sticky: every later call returns it
// again. io.EOF is returned only at a clean record boundary. Other reading errors are
// *[RecordError] values naming the record index and the byte offset where the record
// starts; errors.Is sees through them to [ErrCorrupt] (a checksum mismatch, or a damaged
// compressed stream), [ErrTruncated] (the stream ends inside a record; it also matches
// io.ErrUnexpectedEOF) and [ErrTooLarge] (a checksummed length above
// [ReaderOptions.MaxRecordSize], refused before anything is allocated).
//
// With [ReaderOptions.Recover] the Reader does not stop at a damaged record. It scans
// forward one byte at a time for the next offset at which a header's length CRC and the
// following data's CRC both verify, resumes there, and records the skipped byte range as a
// [Damage]; a truncated tail is a Damage too. TensorFlow itself cannot do this. A damaged
// compressed stream cannot be resynchronised (the decompressor cannot continue past the
// damage), so there the decompressor's error is returned even in recovery mode.
package tfrecord

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
)

const (
	headerSize = 12 // uint64 length + uint32 masked length CRC
	footerSize = 4  // uint32 masked data CRC
	// FrameOverhead is the number of bytes a record occupies in the stream beyond its data.
	FrameOverhead = headerSize + footerSize

	// DefaultMaxRecordSize is the largest record a Reader accepts unless told otherwise.
	DefaultMaxRecordSize = 256 << 20

	crcMaskDelta = 0xa282ead8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC returns the masked CRC-32C of b, as stored in TFRecord headers and footers.
func maskedCRC(b []byte) uint32 {
	crc := crc32.Checksum(b, castagnoli)
	return ((crc >> 15) | (crc << 17)) + crcMaskDelta
}

// putHeader fills hdr with the framing header of a record of n bytes.
func putHeader(hdr *[headerSize]byte, n int) {
	binary.LittleEndian.PutUint64(hdr[:8], uint64(n))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
}

// headerLength returns the length stored in hdr and whether its CRC verifies.
func headerLength(hdr []byte) (uint64, bool) {
	return binary.LittleEndian.Uint64(hdr[:8]), maskedCRC(hdr[:8]) == binary.LittleEndian.Uint32(hdr[8:headerSize])
}

// Compression is how a whole TFRecord stream is compressed.
type Compression int

const (
	// Auto, the zero value, tells a Reader to detect the compression from the first bytes
	// of the stream. For a Writer it means None.
	Auto Compression = iota
	// None is an uncompressed stream.
	None
	// GZIP is TensorFlow's compression_type "GZIP": the stream is one gzip file.
	GZIP
	// ZLIB is TensorFlow's compression_type "ZLIB": the stream is one zlib (RFC 1950) stream.
	ZLIB
)

var compressionNames = [...]string{Auto: "auto", None: "none", GZIP: "gzip", ZLIB: "zlib"}

func (c Compression) valid() bool { return c >= Auto && c <= ZLIB }

// String returns "auto", "none", "gzip" or "zlib".
func (c Compression) String() string {
	if !c.valid() {
		return fmt.Sprintf("Compression(%d)", int(c))
	}
	return compressionNames[c]
}

// Suffix returns the conventional file-name suffix: "" for Auto and None, ".gz" for GZIP and
// ".zz" for ZLIB.
func (c Compression) Suffix() string {
	switch c {
	case GZIP:
		return ".gz"
	case ZLIB:
		return ".zz"
	}
	return ""
}

// ParseCompression parses a compression name, case-insensitively: "" and "none" are None,
// "gzip" and "zlib" are GZIP and ZLIB (TensorFlow spells them "GZIP" and "ZLIB"), and "auto"
// is Auto.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return None, nil
	case "gzip":
		return GZIP, nil
	case "zlib":
		return ZLIB, nil
	case "auto":
		return Auto, nil
	}
	return None, fmt.Errorf("tfrecord: unknown compression %q (want none, gzip, zlib or auto)", s)
}

// MarshalText encodes c as its String, so configuration files and JSON show "gzip", not 2.
func (c Compression) MarshalText() ([]byte, error) {
	if !c.valid() {
		return nil, fmt.Errorf("tfrecord: invalid compression %d", int(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText decodes what [ParseCompression] accepts.
func (c *Compression) UnmarshalText(text []byte) error {
	parsed, err := ParseCompression(string(text))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// CompressionFromName returns the compression a file name's suffix announces: GZIP for .gz
// and .gzip, ZLIB for .zz and .zlib (case-insensitive), None for anything else.
func CompressionFromName(path string) Compression {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz", ".gzip":
		return GZIP
	case ".zz", ".zlib":
		return ZLIB
	}
	return None
}

// detect decides the compression of a stream from its first bytes (up to headerSize).
func detect(b []byte) Compression {
	if len(b) >= headerSize {
		if _, ok := headerLength(b); ok {
			return None
		}
	}
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		return GZIP
	}
	// RFC 1950: CMF 0x78 is deflate with a 32 KiB window (what every zlib writer emits);
	// FLG must not ask for a preset dictionary and must make CMF*256+FLG a multiple of 31.
	if len(b) >= 2 && b[0] == 0x78 && b[1]&0x20 == 0 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 {
		return ZLIB
	}
	return None
}
