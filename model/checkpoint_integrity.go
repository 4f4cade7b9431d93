package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tinychat-go/tinychat/model/safetensors"
)

// The metadata keys of a checkpoint's two checksums (format version 2 on).
const (
	// metaDataSHA256 holds the hex SHA-256 of the file's data buffer: every
	// byte after the safetensors header.
	metaDataSHA256 = "data_sha256"
	// metaMetadataSHA256 holds the hex SHA-256 of the header's content, as
	// headerSHA256 computes it.
	metaMetadataSHA256 = "metadata_sha256"
)

// ErrDamaged is wrapped by the errors of LoadCheckpoint and ReadCheckpointInfo for a file whose
// content does not match its own checksums: bytes changed after it was written.
var ErrDamaged = errors.New("file is damaged")

// headerSHA256 returns the hex SHA-256 that metadata_sha256 holds: of every metadata entry but
// metadata_sha256 itself, in byte order of the keys, and then of every tensor's name and shape, in
// byte order of the names. Each string is written as its length (uint64, little-endian) and its
// bytes; each shape as its rank and its dimensions, all uint64 little-endian. So it covers the
// whole header except the data offsets, which the safetensors reader checks against the file.
func headerSHA256(meta map[string]string, tensors []safetensors.TensorInfo) string {
	h := sha256.New()
	var buf [8]byte
	putInt := func(n int) {
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	putString := func(s string) {
		putInt(len(s))
		h.Write([]byte(s))
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != metaMetadataSHA256 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	putInt(len(keys))
	for _, k := range keys {
		putString(k)
		putString(meta[k])
	}
	ts := slices.Clone(tensors)
	slices.SortFunc(ts, func(a, b safetensors.TensorInfo) int { return strings.Compare(a.Name, b.Name) })
	putInt(len(ts))
	for _, t := range ts {
		putString(t.Name)
		putInt(len(t.Shape))
		for _, d := range t.Shape {
			putInt(d)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// seal adds both checksums to meta for a file holding tensors.
func seal(meta map[string]string, tensors []safetensors.Tensor) error {
	sum, err := safetensors.DataSHA256(tensors)
	if err != nil {
		return err
	}
	meta[metaDataSHA256] = sum
	meta[metaMetadataSHA256] = headerSHA256(meta, tensorInfos(tensors))
	return nil
}

// tensorInfos lists the names and shapes of tensors.
func tensorInfos(tensors []safetensors.Tensor) []safetensors.TensorInfo {
	infos := make([]safetensors.TensorInfo, len(tensors))
	for i, t := range tensors {
		infos[i] = safetensors.TensorInfo{Name: t.Name, Shape: t.Shape}
	}
	return infos
}

// checksummed reports whether meta's format version has checksums (2 on).
func checksummed(meta map[string]string) bool {
	v, err := strconv.Atoi(meta["format_version"])
	return err == nil && v >= 2
}

// checkHeaderSum verifies metadata_sha256 where the format version requires it (2 on). Errors
// wrap ErrDamaged and do not name the file.
func checkHeaderSum(meta map[string]string, tensors []safetensors.TensorInfo) error {
	want, ok := meta[metaMetadataSHA256]
	if !ok {
		if !checksummed(meta) {
			return nil // version 1, or not a checkpoint at all: parseCheckpointMeta says which
		}
		return fmt.Errorf("%w: it has no %s (a format version %d checkpoint has one)", ErrDamaged, metaMetadataSHA256, FormatVersion)
	}
	if got := headerSHA256(meta, tensors); got != want {
		return fmt.Errorf("%w: its metadata or tensor list does not match its checksum (%s)", ErrDamaged, metaMetadataSHA256)
	}
	return nil
}

// checkDataSum verifies data_sha256 against the SHA-256 of the data buffer as read, where the
// format version requires it. Errors wrap ErrDamaged and do not name the file.
func checkDataSum(meta map[string]string, got string) error {
	want, ok := meta[metaDataSHA256]
	if !ok {
		if !checksummed(meta) {
			return nil
		}
		return fmt.Errorf("%w: it has no %s (a format version %d checkpoint has one)", ErrDamaged, metaDataSHA256, FormatVersion)
	}
	if got != want {
		return fmt.Errorf("%w: its tensor data does not match its checksum (%s)", ErrDamaged, metaDataSHA256)
	}
	return nil
}

// checkFinite reports the first NaN or infinite value of a tensor, naming the tensor.
func checkFinite(t safetensors.Tensor) error {
	for i, v := range t.Data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("tensor %q holds %v at index %d of %d: the weights are not finite", t.Name, v, i, len(t.Data))
		}
	}
	return nil
}
