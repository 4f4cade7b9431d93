package data

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go trusts the offsets and lengths in a file's footer: a damaged
// footer makes it index out of range or allocate a negative or huge length,
// and it reports some other problems (schemas it cannot map, corrupt pages)
// by panicking too. Every call into it from this package therefore goes
// through guardParquet, and openParquet checks the footer's sizes against
// the file before parquet-go allocates by them.

// guardParquet calls fn, which calls into parquet-go, and turns a panic into
// an error naming where (the file, or "file:row N"). Errors fn returns are
// passed through unchanged, so fn's errors must name the file themselves.
func guardParquet(where string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("data: %s: reading parquet: damaged or unsupported file (parquet-go: %v)", where, r)
		}
	}()
	return fn()
}

// openParquet opens the Parquet file at path for a full scan. A damaged file
// is an error naming path: a footer that does not fit in the file, a column
// chunk or page index outside it, or anything parquet-go rejects or panics
// on while reading the footer and the page index. The caller closes f.
func openParquet(path string) (f *os.File, pf *parquet.File, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	info, err := f.Stat()
	if err != nil {
		return f, nil, fmt.Errorf("data: %s: %w", path, err)
	}
	size := info.Size()
	if err := checkFooterLength(f, size); err != nil {
		return f, nil, fmt.Errorf("data: %s: reading parquet: %w", path, err)
	}
	// The page index is only for seeking; a full scan reads the pages in
	// order. It is read below, after its offsets are checked, so that a
	// damaged one is reported rather than ignored.
	err = guardParquet(path, func() (err error) {
		pf, err = parquet.OpenFile(f, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		if err != nil {
			return fmt.Errorf("data: %s: reading parquet: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return f, nil, err
	}
	if err := checkChunks(pf.Metadata(), size); err != nil {
		return f, nil, fmt.Errorf("data: %s: reading parquet: damaged file: %w", path, err)
	}
	err = guardParquet(path, func() error {
		if _, _, err := pf.ReadPageIndex(); err != nil {
			return fmt.Errorf("data: %s: reading parquet: page index: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return f, nil, err
	}
	return f, pf, nil
}

// checkFooterLength checks that the footer length in the last 8 bytes of a
// Parquet file (a little-endian uint32 and the magic "PAR1") fits between
// the leading and the trailing magic.
func checkFooterLength(r io.ReaderAt, size int64) error {
	const magic = 4
	if size < 2*magic+4 {
		return fmt.Errorf("damaged file: %d bytes is too short for a Parquet file", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-2*magic-4 {
		return fmt.Errorf("damaged file: footer length %d does not fit in the file's %d bytes", n, size)
	}
	return nil
}

// checkChunks checks that every row group has a chunk for each column and
// that every chunk's pages and page index lie inside the file.
func checkChunks(md *format.FileMetaData, size int64) error {
	inFile := func(off, n int64) bool { return off >= 0 && n >= 0 && off <= size && n <= size-off }
	for i, rg := range md.RowGroups {
		if i > 0 && len(rg.Columns) != len(md.RowGroups[0].Columns) {
			return fmt.Errorf("row group %d has %d column chunks, row group 0 has %d", i, len(rg.Columns), len(md.RowGroups[0].Columns))
		}
		if len(rg.Columns) == 0 {
			return fmt.Errorf("row group %d has no column chunks", i)
		}
		for j, c := range rg.Columns {
			m := c.MetaData
			switch {
			case !inFile(m.DataPageOffset, m.TotalCompressedSize):
				return fmt.Errorf("row group %d column %d: pages at offset %d, %d bytes, outside the file's %d bytes",
					i, j, m.DataPageOffset, m.TotalCompressedSize, size)
			case !inFile(m.DictionaryPageOffset, m.TotalCompressedSize):
				return fmt.Errorf("row group %d column %d: dictionary page at offset %d, chunk of %d bytes, outside the file's %d bytes",
					i, j, m.DictionaryPageOffset, m.TotalCompressedSize, size)
			case !inFile(c.ColumnIndexOffset, int64(c.ColumnIndexLength)):
				return fmt.Errorf("row group %d column %d: column index at offset %d, %d bytes, outside the file's %d bytes",
					i, j, c.ColumnIndexOffset, c.ColumnIndexLength, size)
			case !inFile(c.OffsetIndexOffset, int64(c.OffsetIndexLength)):
				return fmt.Errorf("row group %d column %d: offset index at offset %d, %d bytes, outside the file's %d bytes",
					i, j, c.OffsetIndexOffset, c.OffsetIndexLength, size)
			}
		}
	}
	return nil
}

// closeGuarded closes a parquet-go reader through guardParquet, naming path in
// its error.
func closeGuarded(path string, close func() error) error {
	return guardParquet(path, func() error {
		if err := close(); err != nil {
			return fmt.Errorf("data: %s: reading parquet: closing: %w", path, err)
		}
		return nil
	})
}
