package export

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/model"
)

// TestImportedModelFineTunes checks that an imported GPT-2-layout checkpoint is an ordinary
// checkpoint here: it saves and loads (its tokenizer keeps GPT-2's pre-splitting), renders
// chats with the added special tokens, and training on the assistant tokens (SFT's objective)
// lowers their loss.
func TestImportedModelFineTunes(t *testing.T) {
	src := gpt2Source(t)
	dir := t.TempDir()
	gpt2Fixture(t, filepath.Join(dir, "gpt2"), src)
	ck, err := ReadHF(context.Background(), filepath.Join(dir, "gpt2"))
	require.NoError(t, err)
	path := filepath.Join(dir, "gpt2.safetensors")
	require.NoError(t, ck.Save(path))
	ck, err = model.LoadCheckpoint(path)
	require.NoError(t, err)
	require.Equal(t, "gpt2", ck.Tokenizer.(interface{ PreSplit() string }).PreSplit())

	T := ck.Model.Config.BlockSize
	g, err := ck.Model.NewGraph(model.GraphConfig{Batch: 2, Block: T, Train: true})
	require.NoError(t, err)
	for b, conv := range [][]data.Message{
		{{Role: data.RoleUser, Content: "hello"}, {Role: data.RoleAssistant, Content: "hello there!"}},
		{{Role: data.RoleUser, Content: "ok"}, {Role: data.RoleAssistant, Content: "123 ok"}},
	} {
		ids, mask, err := data.RenderChat(ck.Tokenizer, conv)
		require.NoError(t, err)
		require.Less(t, len(ids), T)
		for i := 0; i+1 < len(ids); i++ {
			g.Tokens[b*T+i], g.Targets[b*T+i], g.Weights[b*T+i] = ids[i], ids[i+1], mask[i+1]
		}
	}
	opt := newAdam(ck.Model)
	var first float64
	for step := range 30 {
		ck.Model.ZeroGrad()
		require.NoError(t, g.Run())
		if step == 0 {
			first = g.Loss
		}
		opt.step(1e-2)
	}
	require.Less(t, g.Loss, first/2, "assistant-token loss %.3f after 30 steps, from %.3f", g.Loss, first)
}
