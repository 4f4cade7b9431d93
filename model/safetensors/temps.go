package safetensors

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempInfix separates the target's base name from the random suffix in the
// names of WriteFile's temporary files: ".<base>.tmp-<random>".
const tempInfix = ".tmp-"

// isTempFor reports whether name is one of WriteFile's temporary file names
// for a target whose base name is base: "." + base + ".tmp-" followed by 1 to
// 13 lowercase base-36 digits (a uint64 in base 36).
func isTempFor(name, base string) bool {
	suffix, ok := strings.CutPrefix(name, "."+base+tempInfix)
	if !ok || len(suffix) == 0 || len(suffix) > 13 {
		return false
	}
	for _, c := range suffix {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// RemoveStaleTemps removes the temporary files that [WriteFile] left beside
// path when its process was killed mid-write: regular files in path's
// directory named ".<base>.tmp-<random>", where base is path's base name and
// <random> is WriteFile's random suffix. Nothing else is touched: not path,
// not the temporary files of other targets, not directories or links of a
// matching name. It returns the names removed (sorted). A missing directory
// is not an error.
//
// Call it only while no other process is writing path (for example when a
// training run starts): it would also remove a write in progress.
func RemoveStaleTemps(path string) ([]string, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: removing stale temporary files of %s: %w", path, err)
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempFor(e.Name(), base) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("safetensors: removing stale temporary file of %s: %w", path, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}
