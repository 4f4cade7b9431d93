package stepbench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestShape(t *testing.T) {
	sh, err := ParseShape("4,4,128,64,12")
	require.NoError(t, err)
	require.Equal(t, NanoGPT, sh)
	require.Equal(t, "4,4,128,64,12", sh.String())
	require.Equal(t, 768, sh.Tokens())
	// 6·(params − wpe)·tokens + 12·T·C·tokens·layers, by hand for nanoGPT's shape:
	// params 65·128 + 64·128 + 4·(12·128² + 4·128) + 2·128 = 805,248 (tied head).
	c := sh.Config()
	require.Equal(t, 805_248, c.NumParams())
	require.Equal(t, 6*float64(805_248-64*128)*768+12*float64(64*128)*768*4, sh.FLOPs())
	_, err = ParseShape("4,4,130,64,12")
	require.ErrorContains(t, err, `shape "4,4,130,64,12": `)
}

// A step of a tiny shape runs (its arithmetic is tested by the model and train packages).
func TestStepRuns(t *testing.T) {
	step, err := New(Shape{Layers: 1, Heads: 2, Width: 16, Block: 8, Batch: 2}, 1)
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, step())
	}
}
