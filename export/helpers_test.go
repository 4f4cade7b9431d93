package export

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/model"
)

// testChats are the conversations the test model learns: short, varied text with spaces,
// newlines, digits, accents and emoji, so that its greedy continuations are confident.
var testChats = [][]data.Message{
	{{Role: data.RoleUser, Content: "hello there"}, {Role: data.RoleAssistant, Content: "Hello! How can I help you today?"}},
	{{Role: data.RoleSystem, Content: "Be brief."}, {Role: data.RoleUser, Content: "what is 12 + 30?"}, {Role: data.RoleAssistant, Content: "12 + 30 = 42."}},
	{{Role: data.RoleUser, Content: "say something nice"}, {Role: data.RoleAssistant, Content: "You are doing great 😀\nKeep going!"}},
	{{Role: data.RoleUser, Content: "café or thé?"}, {Role: data.RoleAssistant, Content: "Café, s'il vous plaît."}},
	{{Role: data.RoleUser, Content: "list two colors"}, {Role: data.RoleAssistant, Content: "  - red\n  - blue"}},
}

var (
	testCkOnce sync.Once
	testCk     *model.Checkpoint
	testCkErr  error
)

// trainedCheckpoint is a small chat model (BPE tokenizer, 2 layers, width 48, block 64)
// trained for a few hundred Adam steps on testChats until it repeats them confidently. It is
// built once per test binary; callers must not modify it.
func trainedCheckpoint(t *testing.T) *model.Checkpoint {
	t.Helper()
	testCkOnce.Do(func() { testCk, testCkErr = buildTrainedCheckpoint() })
	require.NoError(t, testCkErr)
	return testCk
}

func buildTrainedCheckpoint() (*model.Checkpoint, error) {
	var corpus string
	for _, c := range testChats {
		for _, m := range c {
			corpus += m.Content + "\n"
		}
	}
	tok, err := tokenizer.TrainBPE(corpus, tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 60})
	if err != nil {
		return nil, err
	}
	var stream []int32
	for _, c := range testChats {
		ids, _, err := data.RenderChat(tok, c)
		if err != nil {
			return nil, err
		}
		stream = append(stream, ids...)
	}
	cfg := model.Config{VocabSize: tok.VocabSize(), BlockSize: 64, Layers: 2, Heads: 2, Width: 48}
	m, err := model.New(cfg, 1)
	if err != nil {
		return nil, err
	}
	const batch, block = 4, 48
	g, err := m.NewGraph(model.GraphConfig{Batch: batch, Block: block, Train: true})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	opt := newAdam(m)
	for range 300 {
		for b := range batch {
			start := rng.IntN(len(stream) - block - 1)
			copy(g.Tokens[b*block:(b+1)*block], stream[start:])
			copy(g.Targets[b*block:(b+1)*block], stream[start+1:])
		}
		for i := range g.Weights {
			g.Weights[i] = 1
		}
		m.ZeroGrad()
		if err := g.Run(); err != nil {
			return nil, err
		}
		opt.step(3e-3)
	}
	return &model.Checkpoint{Stage: model.StageSFT, Model: m, Tokenizer: tok, Step: 300}, nil
}

// adam is a minimal Adam for the test model (the real optimizer lives in package train).
type adam struct {
	m   *model.Model
	mom [][2][]float32
	t   int
}

func newAdam(m *model.Model) *adam {
	a := &adam{m: m}
	for _, p := range m.Params {
		a.mom = append(a.mom, [2][]float32{make([]float32, len(p.Data)), make([]float32, len(p.Data))})
	}
	return a
}

func (a *adam) step(lr float64) {
	const b1, b2, eps = 0.9, 0.99, 1e-8
	a.t++
	c1, c2 := 1-math.Pow(b1, float64(a.t)), 1-math.Pow(b2, float64(a.t))
	for i, p := range a.m.Params {
		m, v := a.mom[i][0], a.mom[i][1]
		for j, g := range p.Grad {
			m[j] = b1*m[j] + (1-b1)*g
			v[j] = b2*v[j] + (1-b2)*g*g
			p.Data[j] -= float32(lr * float64(m[j]) / c1 / (math.Sqrt(float64(v[j])/c2) + eps))
		}
	}
}
