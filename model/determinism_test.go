package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// determinismChildEnv makes TestDeterminismAcrossWorkerCounts run as the child that trains.
const determinismChildEnv = "TINYCHAT_DETERMINISM_CHILD"

// trainFingerprint trains a small model for a few steps (dropout on, tied head, shapes large
// enough that the kernels and the matrix products split their work across workers) with Adam
// written out here, and returns the SHA-256 of every loss and every final weight's bits.
func trainFingerprint(t testing.TB) string {
	cfg := Config{VocabSize: 61, BlockSize: 48, Layers: 2, Heads: 4, Width: 64, Dropout: 0.1}
	m, err := New(cfg, 11)
	require.NoError(t, err)
	g, err := m.NewGraph(GraphConfig{Batch: 6, Block: 48, Train: true, Seed: 5})
	require.NoError(t, err)
	h := sha256.New()
	put := func(v float32) { h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v))) }
	mom := make([][2][]float32, len(m.Params))
	for i, p := range m.Params {
		mom[i] = [2][]float32{make([]float32, len(p.Data)), make([]float32, len(p.Data))}
	}
	for step := 1; step <= 3; step++ {
		for i := range g.Tokens {
			g.Tokens[i] = int32((i*7 + step*13 + i*i%17) % cfg.VocabSize)
			g.Targets[i] = int32((i*5 + step) % cfg.VocabSize)
			g.Weights[i] = 1
		}
		m.ZeroGrad()
		require.NoError(t, g.Run())
		put(float32(g.Loss))
		const lr, b1, b2, eps = 1e-2, 0.9, 0.95, 1e-8
		c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
		for i, p := range m.Params {
			mm, vv := mom[i][0], mom[i][1]
			for j, gr := range p.Grad {
				mm[j] = b1*mm[j] + (1-b1)*gr
				vv[j] = b2*vv[j] + (1-b2)*gr*gr
				p.Data[j] -= float32(lr / c1 * float64(mm[j]) / (math.Sqrt(float64(vv[j])/c2) + eps))
			}
		}
	}
	for _, p := range m.Params {
		h.Write([]byte(p.Name))
		for _, v := range p.Data {
			put(v)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestDeterminismAcrossWorkerCounts trains the same small model in child processes of this
// test binary with GOMAXPROCS 1, 2 and 5 (so the kernels and the matrix products split their
// work into different numbers of parts, run by different goroutines), twice with 2, and on the
// pure-Go matrix-product path as well as the default one: every run must give the same losses
// and weights, bit for bit. Results may depend on the seed, the data and the BLAS path, never
// on the number of workers or on which worker ran which part.
func TestDeterminismAcrossWorkerCounts(t *testing.T) {
	if os.Getenv(determinismChildEnv) == "1" {
		fmt.Printf("fingerprint %s\n", trainFingerprint(t))
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	run := func(blas string, procs int) string {
		cmd := exec.Command(exe, "-test.run=^TestDeterminismAcrossWorkerCounts$", "-test.count=1")
		cmd.Env = append(os.Environ(), determinismChildEnv+"=1", fmt.Sprintf("GOMAXPROCS=%d", procs))
		if blas != "" {
			cmd.Env = append(cmd.Env, "TINYCHAT_BLAS="+blas)
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child (TINYCHAT_BLAS=%q GOMAXPROCS=%d): %s", blas, procs, out)
		for _, line := range strings.Split(string(out), "\n") {
			if fp, ok := strings.CutPrefix(line, "fingerprint "); ok {
				return fp
			}
		}
		t.Fatalf("child (TINYCHAT_BLAS=%q GOMAXPROCS=%d) printed no fingerprint: %s", blas, procs, out)
		return ""
	}
	for _, blas := range []string{"", "go"} {
		want := run(blas, 1)
		for _, procs := range []int{2, 5, 2} {
			require.Equal(t, want, run(blas, procs), "TINYCHAT_BLAS=%q: GOMAXPROCS=%d differs from GOMAXPROCS=1", blas, procs)
		}
	}
}

// TestSetThreadsKeepsBits: the same training with every operation on one goroutine
// (SetThreads(1)), on three, and with the default gives the same fingerprint, in this process.
func TestSetThreadsKeepsBits(t *testing.T) {
	t.Cleanup(func() { SetThreads(0) })
	want := trainFingerprint(t)
	for _, n := range []int{1, 3} {
		SetThreads(n)
		require.Equal(t, n, Threads())
		require.Equal(t, want, trainFingerprint(t), "SetThreads(%d)", n)
	}
	SetThreads(0)
	require.Greater(t, Threads(), 0)
}
