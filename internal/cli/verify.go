package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register(&Command{
		Name:  "verify",
		Args:  "[--recover] [--all] [--json] FILE|GLOB... | DIR",
		Short: "check TFRecord files, or a converted dataset against its manifest",
		Long: `Given TFRecord files (uncompressed, GZIP or ZLIB, detected from the content), verify reads
every record, checks the CRC-32C of every length and every payload, and parses every
payload as a tf.train.Example. Payloads that are not Examples (a TFRecord file may hold any
bytes) are counted as raw records, not errors; a payload counts as an Example when it parses
and has at least one feature. It prints, per file, the records, Examples, raw records,
payload bytes, compression and size on disk.

At the first damaged record it stops and exits 1, naming file:offset (record N): the byte
offset where the record starts, in the uncompressed stream for GZIP and ZLIB files, and
the number of records before it. --all goes on to the other files and names the first
problem of each. --recover goes further: inside a damaged file it skips to the next
record whose checksums verify, lists every skipped byte range and reads every other
record (it still exits 1, since damage was found). A compressed stream cannot be
resynchronised after damage; the rest of such a file is reported lost.

` + verifyDatasetHelp + `

Examples:
  tfprep verify data.tfrecord
  tfprep verify 'out/train-*' 'out/validation-*'
  tfprep verify --recover --json damaged.tfrecord
  tfprep verify out/planet`,
		Flags: func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
			var opts verifyOptions
			fs.BoolVar(&opts.Recover, "recover", false, "files: skip damaged byte ranges, list each, and read every other record")
			fs.BoolVar(&opts.All, "all", false, "files: report the first problem of every file; DIR: list every discrepancy")
			asJSON := fs.Bool("json", false, "print the result as a JSON object")
			return func(ctx context.Context, env *Env, args []string) error {
				return runVerify(ctx, env, args, opts, *asJSON)
			}
		},
	})
}

// verifyOptions are the file-mode options of "tfprep verify".
type verifyOptions struct {
	Recover bool // skip damaged ranges and keep reading
	All     bool // go on to the next file after a damaged one
}

// fileReport is what verify found in one TFRecord file.
type fileReport struct {
	File        string `json:"file"`
	Compression string `json:"compression"`
	FileBytes   int64  `json:"file_bytes"`   // size on disk
	StreamBytes int64  `json:"stream_bytes"` // uncompressed framed stream read
	Records     int64  `json:"records"`      // intact records read
	Examples    int64  `json:"examples"`     // of which tf.train.Examples
	Raw         int64  `json:"raw"`          // of which other payloads
	Bytes       int64  `json:"bytes"`        // payload bytes of the intact records
	// Damage lists the problems: without --recover at most one, where
	// reading stopped; with it, every skipped byte range.
	Damage   []damageRange `json:"damage"`
	Complete bool          `json:"complete"` // read to the end
}

// damageRange is a damaged part of a file: where reading stopped (Length
// -1), or a range a recovering reader skipped. Offset and Record are -1 when
// the file could not be opened.
type damageRange struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Record int64  `json:"record"` // intact records before it
	Length int64  `json:"length"`
	Reason string `json:"reason"`
}

func (d damageRange) String() string {
	if d.Offset < 0 {
		return fmt.Sprintf("%s: %s", d.File, d.Reason)
	}
	s := fmt.Sprintf("%s:%d (record %d): %s", d.File, d.Offset, d.Record, d.Reason)
	if d.Length >= 0 {
		s += fmt.Sprintf("; skipped %d bytes", d.Length)
	}
	return s
}

// filesReport is the result of verifying TFRecord files; its JSON form is
// the --json output.
type filesReport struct {
	OK       bool         `json:"ok"`
	Complete bool         `json:"complete"` // false: stopped at the first problem
	Paths    int          `json:"paths"`    // files asked for; len(Files) were checked
	Records  int64        `json:"records"`
	Examples int64        `json:"examples"`
	Raw      int64        `json:"raw"`
	Bytes    int64        `json:"bytes"`
	Files    []fileReport `json:"files"`
}

func runVerify(ctx context.Context, env *Env, args []string, opts verifyOptions, asJSON bool) error {
	if len(args) == 0 {
		return usagef("no files or directory given")
	}
	if len(args) == 1 && isDatasetDir(args[0]) {
		if opts.Recover {
			return usagef("--recover is for TFRecord files, not a dataset directory")
		}
		return runVerifyDataset(ctx, env, args[0], opts.All, asJSON)
	}
	paths, err := expandFiles(args)
	if err != nil {
		return fmt.Errorf("%w (a dataset directory, with dataset.json, is verified on its own)", err)
	}
	r, err := verifyFiles(ctx, paths, opts)
	if err != nil {
		return err
	}
	if asJSON {
		err = writeJSON(env.Stdout, r)
	} else {
		printFilesReport(env.Stdout, r)
	}
	if err == nil && !r.OK {
		err = errFailed
	}
	return err
}

// verifyFiles reads and checks every record of the files. Problems with
// the files are in the report; the error is for failing to check at all
// (a cancelled context).
func verifyFiles(ctx context.Context, paths []string, opts verifyOptions) (*filesReport, error) {
	r := &filesReport{OK: true, Complete: true, Paths: len(paths), Files: []fileReport{}}
	for i, path := range paths {
		fr, err := verifyFile(ctx, path, opts)
		if err != nil {
			return nil, err
		}
		r.Files = append(r.Files, *fr)
		r.Records += fr.Records
		r.Examples += fr.Examples
		r.Raw += fr.Raw
		r.Bytes += fr.Bytes
		if len(fr.Damage) > 0 {
			r.OK = false
			if !opts.All && !opts.Recover && i < len(paths)-1 {
				r.Complete = false
				break
			}
		}
	}
	return r, nil
}

func verifyFile(ctx context.Context, path string, opts verifyOptions) (*fileReport, error) {
	fr := &fileReport{File: path, Damage: []damageRange{}}
	fail := func(offset, record, length int64, reason string) {
		fr.Damage = append(fr.Damage, damageRange{File: path, Offset: offset, Record: record, Length: length, Reason: reason})
	}
	if fi, err := os.Stat(path); err == nil {
		fr.FileBytes = fi.Size()
	}
	f, err := tfrecord.Open(path, &tfrecord.ReaderOptions{ReuseBuffer: true, Recover: opts.Recover})
	if err != nil {
		fail(-1, -1, -1, err.Error())
		return fr, nil
	}
	defer f.Close()
	fr.Compression = f.Compression().String()
	var parsed example.Parsed
	for {
		if f.Index()%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := f.Next()
		if err == io.EOF {
			fr.Complete = true
			break
		}
		if err != nil {
			offset, record, reason := f.Offset(), f.Index(), err.Error()
			var re *tfrecord.RecordError
			if errors.As(err, &re) {
				offset, record, reason = re.Offset, re.Record, re.Reason()
			}
			if opts.Recover {
				// The reader recovers from everything but a broken
				// compressed stream.
				reason += "; the rest of the file cannot be read"
			}
			fail(offset, record, -1, reason)
			break
		}
		fr.Records++
		fr.Bytes += int64(len(rec))
		if example.ParseInto(&parsed, rec, true) == nil && len(parsed.Features) > 0 {
			fr.Examples++
		} else {
			fr.Raw++
		}
	}
	fr.StreamBytes = f.Offset()
	// Ranges a recovering reader skipped come before where it stopped.
	var skipped []damageRange
	for _, d := range f.Skipped() {
		dr := damageRange{File: path, Offset: d.Offset, Length: d.Length, Reason: d.Err.Error()}
		var re *tfrecord.RecordError
		if errors.As(d.Err, &re) {
			dr.Record, dr.Reason = re.Record, re.Reason()
		}
		skipped = append(skipped, dr)
	}
	fr.Damage = append(skipped, fr.Damage...)
	return fr, nil
}

// printFilesReport writes the verdict for people: a table of files, then
// each problem.
func printFilesReport(w io.Writer, r *filesReport) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSTATUS\tRECORDS\tEXAMPLES\tRAW\tBYTES\tCOMPRESSION\tSIZE")
	for _, f := range r.Files {
		status := "ok"
		switch {
		case f.Compression == "":
			status = "UNREADABLE"
		case len(f.Damage) > 0:
			status = "DAMAGED"
		}
		compression := f.Compression
		if compression == "" {
			compression = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\n", f.File, status, f.Records, f.Examples, f.Raw, f.Bytes, compression, f.FileBytes)
	}
	tw.Flush()
	for _, f := range r.Files {
		for _, d := range f.Damage {
			fmt.Fprintln(w, d)
		}
	}
	files := fmt.Sprintf("%d files", len(r.Files))
	if len(r.Files) == 1 {
		files = "1 file"
	}
	switch {
	case r.OK:
		fmt.Fprintf(w, "ok: %s, %d records (%d Examples, %d raw), %d payload bytes\n", files, r.Records, r.Examples, r.Raw, r.Bytes)
	case !r.Complete:
		fmt.Fprintf(w, "FAILED at the first problem, in file %d of %d (--all checks every file, --recover reads past damage)\n", len(r.Files), r.Paths)
	default:
		fmt.Fprintf(w, "FAILED: %s, %d intact records (%d Examples, %d raw), %d payload bytes\n", files, r.Records, r.Examples, r.Raw, r.Bytes)
	}
}
