//go:build !((darwin || linux) && (amd64 || arm64) && !android && !faketime)

package blas

import (
	"fmt"
	"runtime"
)

// candidate is a native library to try; none can be loaded on this platform.
type candidate struct{ path string }

func pathCandidate(path string) candidate { return candidate{path: path} }

func nativeCandidates(string) []candidate { return nil }

func loadNative([]candidate) (*backend, error) {
	return nil, fmt.Errorf("native BLAS loading is not supported on %s/%s", runtime.GOOS, runtime.GOARCH)
}
