package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// chunkSize is the size of the scratch buffer used to convert tensor data; a
// multiple of f32Size.
const chunkSize = 256 << 10

// Encode writes the file to w. Tensors are laid out sorted by name and
// metadata keys sorted, so the same input always gives the same bytes; an
// empty or nil metadata map writes no "__metadata__" entry. Neither tensors
// nor metadata are modified.
//
// It returns an error wrapping [ErrInvalidInput], before writing anything, on
// an empty, duplicate, non-UTF-8 or "__"-prefixed name, a negative dimension,
// a shape whose element count overflows or differs from len(Data), non-UTF-8
// metadata, or a header larger than [MaxHeaderSize].
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	hdr, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	return writeEncoded(w, hdr, order, tensors)
}

// buildHeader validates the input and returns the padded header and the
// order (indices into tensors) in which tensor data must be written.
func buildHeader(tensors []Tensor, metadata map[string]string) ([]byte, []int, error) {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })

	b := []byte{'{'}
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) {
				return nil, nil, fmt.Errorf("%w: metadata key %q is not valid UTF-8", ErrInvalidInput, k)
			}
			if !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("%w: metadata value for key %q is not valid UTF-8", ErrInvalidInput, k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = appendJSONString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, metadata[k])
		}
		b = append(b, '}')
	}

	var offset int64
	for i, idx := range order {
		t := &tensors[idx]
		if err := checkName(t.Name); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		if i > 0 && tensors[order[i-1]].Name == t.Name {
			return nil, nil, fmt.Errorf("%w: duplicate tensor name %q", ErrInvalidInput, t.Name)
		}
		n, err := numElements(t.Shape)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: tensor %q: %w", ErrInvalidInput, t.Name, err)
		}
		if n != len(t.Data) {
			return nil, nil, fmt.Errorf("%w: tensor %q: shape %v holds %d values but Data has %d",
				ErrInvalidInput, t.Name, t.Shape, n, len(t.Data))
		}
		size := int64(n) * f32Size
		if offset > math.MaxInt64-size {
			return nil, nil, fmt.Errorf("%w: total data size overflows at tensor %q", ErrInvalidInput, t.Name)
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":"F32","shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, offset, 10)
		b = append(b, ',')
		offset += size
		b = strconv.AppendInt(b, offset, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%alignment != 0 {
		b = append(b, ' ')
	}
	if len(b) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("%w: header of %d bytes exceeds the limit of %d bytes", ErrInvalidInput, len(b), MaxHeaderSize)
	}
	return b, order, nil
}

// checkName reports whether name may be used as a tensor name.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty tensor name")
	case !utf8.ValidString(name):
		return fmt.Errorf("tensor name %q is not valid UTF-8", name)
	case strings.HasPrefix(name, reservedPfx):
		return fmt.Errorf("tensor name %q is reserved (starts with %q)", name, reservedPfx)
	}
	return nil
}

// appendJSONString appends s, which must be valid UTF-8, as a JSON string.
// Only '"', '\\' and control characters are escaped, so the output does not
// depend on encoding/json's escaping choices.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// writeEncoded writes the length prefix, the header and the tensor data in
// the given order.
func writeEncoded(w io.Writer, hdr []byte, order []int, tensors []Tensor) error {
	var prefix [prefixSize]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(hdr)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: writing header length: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: writing header: %w", err)
	}
	return writeData(w, order, tensors)
}

// writeData writes the tensors' values in the given order as little-endian
// float32: the data buffer.
func writeData(w io.Writer, order []int, tensors []Tensor) error {
	buf := make([]byte, 0, chunkSize)
	for _, idx := range order {
		for _, v := range tensors[idx].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return fmt.Errorf("safetensors: writing data of tensor %q: %w", tensors[idx].Name, err)
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("safetensors: writing data: %w", err)
		}
	}
	return nil
}

// DataSHA256 returns the hex SHA-256 of the data buffer that [Encode] and
// [WriteFile] would write for tensors (their values as little-endian float32,
// tensors sorted by name), which is what [File.DataSHA256] reports when the
// file is read back. It validates the tensors as Encode does.
func DataSHA256(tensors []Tensor) (string, error) {
	_, order, err := buildHeader(tensors, nil)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if err := writeData(h, order, tensors); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteFile writes the file to path atomically: the input is validated as by
// [Encode], then written to a new temporary file in the same directory, which
// is fsynced, closed and renamed over path; finally the directory is fsynced
// (best effort). On any error the temporary file is removed and an existing
// file at path is left untouched. The new file gets mode 0666 less the umask,
// like os.Create. Errors name path.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	hdr, order, err := buildHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, tmp, err := createTemp(dir, filepath.Base(path))
	if err != nil {
		return fmt.Errorf("%s: creating temporary file: %w", path, err)
	}
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()
	if err = writeEncoded(f, hdr, order, tensors); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// createTemp creates a new file named ".<base>.tmp-<random>" in dir with mode
// 0666 less the umask.
func createTemp(dir, base string) (*os.File, string, error) {
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("too many name collisions")
}

// syncDir fsyncs a directory so that a rename in it is durable. Errors are
// ignored: not every platform or file system supports it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
