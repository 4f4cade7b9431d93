package safetensors

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonScript reads argv[1] with Python's safetensors and prints its tensors
// as JSON (float32 values as uint32 bits), then writes two tensors and one
// metadata entry with safetensors.serialize to argv[2].
const pythonScript = `
import json, struct, sys
from safetensors import deserialize, serialize
with open(sys.argv[1], "rb") as f:
    raw = f.read()
out = {}
for name, t in deserialize(raw):
    data = bytes(t["data"])
    out[name] = {"dtype": str(t["dtype"]), "shape": list(t["shape"]),
                 "bits": list(struct.unpack("<%dI" % (len(data) // 4), data))}
print(json.dumps(out))
tensors = {
    "w": {"dtype": "float32", "shape": [2, 2], "data": struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)},
    "s": {"dtype": "float32", "shape": [], "data": struct.pack("<f", 7.0)},
}
with open(sys.argv[2], "wb") as f:
    f.write(bytes(serialize(tensors, metadata={"step": "3"})))
`

// TestPythonCompatibility cross-checks with Python's safetensors library. It
// is skipped unless python3 can import safetensors.
func TestPythonCompatibility(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import safetensors").Run() != nil {
		t.Skip("python3 with the safetensors module is not available")
	}
	dir := t.TempDir()
	goPath := filepath.Join(dir, "go.safetensors")
	pyPath := filepath.Join(dir, "py.safetensors")
	in := specialTensors()
	require.NoError(t, WriteFile(goPath, in, map[string]string{"step": "9"}))

	cmd := exec.Command(python, "-c", pythonScript, goPath, pyPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	require.NoError(t, err, "python: %s", stderr.String())

	// Python reads what Go wrote.
	var got map[string]struct {
		DType string   `json:"dtype"`
		Shape []int    `json:"shape"`
		Bits  []uint32 `json:"bits"`
	}
	require.NoError(t, json.Unmarshal(stdout, &got))
	require.Len(t, got, len(in))
	for _, want := range in {
		g, ok := got[want.Name]
		require.True(t, ok, "python lacks tensor %q", want.Name)
		assert.Contains(t, []string{"F32", "float32"}, g.DType)
		assert.Equal(t, len(want.Shape), len(g.Shape))
		if len(want.Shape) > 0 {
			assert.Equal(t, want.Shape, g.Shape)
		}
		assert.Equal(t, bits(want.Data), append([]uint32{}, g.Bits...), "data of %q", want.Name)
	}

	// Go reads what Python wrote, and would have written the same bytes.
	f, err := ReadFile(pyPath)
	require.NoError(t, err)
	wantPy := []Tensor{
		{Name: "s", Shape: []int{}, Data: []float32{7}},
		{Name: "w", Shape: []int{2, 2}, Data: []float32{1, -2, 0.5, 3.25}},
	}
	requireSameTensors(t, wantPy, f.Tensors)
	assert.Equal(t, map[string]string{"step": "3"}, f.Metadata)
	pyBytes, err := os.ReadFile(pyPath)
	require.NoError(t, err)
	assert.Equal(t, string(pyBytes), string(encode(t, wantPy, f.Metadata)))
}
