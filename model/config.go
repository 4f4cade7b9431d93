package model

import (
	"errors"
	"fmt"
)

// Config describes a GPT. The JSON form is stored in every checkpoint.
type Config struct {
	// VocabSize is the number of token IDs, special tokens included.
	VocabSize int `json:"vocab_size"`
	// BlockSize is the longest context, in tokens (the size of the position embedding).
	BlockSize int `json:"block_size"`
	// Layers is the number of transformer blocks.
	Layers int `json:"n_layer"`
	// Heads is the number of attention heads per block; it must divide Width.
	Heads int `json:"n_head"`
	// Width is the embedding width (the residual stream's size).
	Width int `json:"n_embd"`
	// Dropout is the dropout probability on the embeddings and on each residual branch while
	// training (0 disables it). Attention weights are not dropped.
	Dropout float64 `json:"dropout"`
	// UntiedHead gives the model its own LM head ("lm_head.weight") instead of reading the
	// logits off the token embedding; the zero value ties them, as GPT-2 does.
	UntiedHead bool `json:"untied_head,omitempty"`
	// ScalarHead adds a scalar output head ("score.weight", "score.bias") on the final hidden
	// state, as reward and value models have.
	ScalarHead bool `json:"scalar_head,omitempty"`
	// LinearBias gives the four matrices of every block (attn.c_attn, attn.c_proj, mlp.c_fc,
	// mlp.c_proj) a bias vector each (".bias", initialised to zero), as GPT-2 has; imported
	// GPT-2 checkpoints need it. The zero value leaves them out (the LayerNorms always have
	// biases).
	LinearBias bool `json:"linear_bias,omitempty"`
}

// Validate reports what is wrong with c, if anything.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.VocabSize > 0, "vocab size must be > 0, got %d", c.VocabSize)
	check(c.BlockSize > 0, "block size must be > 0, got %d", c.BlockSize)
	check(c.Layers > 0, "layers must be > 0, got %d", c.Layers)
	check(c.Heads > 0, "heads must be > 0, got %d", c.Heads)
	check(c.Width > 0, "width must be > 0, got %d", c.Width)
	if c.Heads > 0 && c.Width > 0 {
		check(c.Width%c.Heads == 0, "heads (%d) must divide width (%d)", c.Heads, c.Width)
	}
	check(c.Dropout >= 0 && c.Dropout < 1, "dropout must be in [0, 1), got %g", c.Dropout)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("model: invalid config: %w", err)
	}
	return nil
}

// HeadDim is Width / Heads.
func (c Config) HeadDim() int { return c.Width / c.Heads }

// ParamShapes lists every parameter's name and shape in a fixed order, with GPT-2's names.
// Matrices are stored as GPT-2's Conv1D stores them, [in, out], so a layer computes x·W; the
// token embedding "wte" is [vocab, width] and the tied LM head computes x·wteᵀ.
func (c Config) ParamShapes() []ParamShape {
	C := c.Width
	ps := []ParamShape{{"wte", []int{c.VocabSize, C}}, {"wpe", []int{c.BlockSize, C}}}
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		ps = append(ps,
			ParamShape{p + "ln_1.weight", []int{C}},
			ParamShape{p + "ln_1.bias", []int{C}},
			ParamShape{p + "attn.c_attn.weight", []int{C, 3 * C}},
			ParamShape{p + "attn.c_proj.weight", []int{C, C}},
			ParamShape{p + "ln_2.weight", []int{C}},
			ParamShape{p + "ln_2.bias", []int{C}},
			ParamShape{p + "mlp.c_fc.weight", []int{C, 4 * C}},
			ParamShape{p + "mlp.c_proj.weight", []int{4 * C, C}},
		)
		if c.LinearBias {
			ps = append(ps,
				ParamShape{p + "attn.c_attn.bias", []int{3 * C}},
				ParamShape{p + "attn.c_proj.bias", []int{C}},
				ParamShape{p + "mlp.c_fc.bias", []int{4 * C}},
				ParamShape{p + "mlp.c_proj.bias", []int{C}},
			)
		}
	}
	ps = append(ps, ParamShape{"ln_f.weight", []int{C}}, ParamShape{"ln_f.bias", []int{C}})
	if c.UntiedHead {
		ps = append(ps, ParamShape{"lm_head.weight", []int{c.VocabSize, C}})
	}
	if c.ScalarHead {
		ps = append(ps, ParamShape{"score.weight", []int{C}}, ParamShape{"score.bias", []int{1}})
	}
	return ps
}

// ParamShape names one parameter and gives its shape.
type ParamShape struct {
	Name  string
	Shape []int
}

// NumParams is the number of parameters of a model with this config.
func (c Config) NumParams() int {
	n := 0
	for _, p := range c.ParamShapes() {
		n += size(p.Shape)
	}
	return n
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
