package tfrecord

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Glob turns file names and glob patterns into paths, in the order given and
// each glob's matches sorted. A glob matching nothing and a directory are
// errors; a plain path is kept as is, for opening to report if missing.
func Glob(args []string) ([]string, error) {
	var paths []string
	for _, arg := range args {
		if !strings.ContainsAny(arg, `*?[`) {
			if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
				return nil, fmt.Errorf("%s is a directory, not a TFRecord file", arg)
			}
			paths = append(paths, arg)
			continue
		}
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %w", arg, err)
		}
		var files []string
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no files match %q", arg)
		}
		paths = append(paths, files...)
	}
	return paths, nil
}
