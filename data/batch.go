package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// pcgStream is the second PCG seed word. Together with the caller's seed it
// fixes the random sequence, so a Batcher is reproducible from its seed alone.
const pcgStream = 0x9e3779b97f4a7c15

// Batcher draws training batches of next-token windows at uniformly random
// offsets, like nanoGPT's get_batch: for an offset i, the input row is
// tokens[i:i+block] and the target row is tokens[i+1:i+block+1]. Offsets are
// drawn independently (with replacement) from [0, len(tokens)-block-1], using
// the Batcher's own PCG generator, so the sequence of batches depends only on
// the seed and on how many batches were drawn.
//
// A Batcher is not safe for concurrent use.
type Batcher struct {
	tokens []int32
	batch  int
	block  int
	src    *rand.PCG
	rng    *rand.Rand
}

// NewBatcher returns a Batcher drawing batch windows of block tokens from
// tokens, seeded with seed. The tokens are not copied and must not be changed
// while the Batcher is in use. It is an error if batch or block is not
// positive, batch*block overflows, or len(tokens) < block+1 (there must be at
// least one full input/target window).
func NewBatcher(tokens []int32, batch, block int, seed uint64) (*Batcher, error) {
	if batch <= 0 || block <= 0 {
		return nil, fmt.Errorf("data: NewBatcher: batch %d and block %d must be positive", batch, block)
	}
	if batch > math.MaxInt/block {
		return nil, fmt.Errorf("data: NewBatcher: batch %d × block %d overflows int", batch, block)
	}
	if len(tokens) < block+1 {
		return nil, fmt.Errorf("data: NewBatcher: %d tokens, want at least block+1 = %d", len(tokens), block+1)
	}
	src := rand.NewPCG(seed, pcgStream)
	return &Batcher{tokens: tokens, batch: batch, block: block, src: src, rng: rand.New(src)}, nil
}

// Batch returns the number of windows per batch.
func (b *Batcher) Batch() int { return b.batch }

// Block returns the window length in tokens.
func (b *Batcher) Block() int { return b.block }

// Next fills x with batch input windows and y with the matching targets
// (shifted by one token), row-major: row r is x[r*block:(r+1)*block]. It does
// not allocate. It panics if len(x) or len(y) is not batch*block.
func (b *Batcher) Next(x, y []int32) {
	n := b.batch * b.block
	if len(x) != n || len(y) != n {
		panic(fmt.Sprintf("data: Batcher.Next: len(x)=%d, len(y)=%d, want batch*block = %d", len(x), len(y), n))
	}
	offsets := len(b.tokens) - b.block // valid offsets are [0, offsets)
	for r := range b.batch {
		i := b.rng.IntN(offsets)
		row := r * b.block
		copy(x[row:row+b.block], b.tokens[i:i+b.block])
		copy(y[row:row+b.block], b.tokens[i+1:i+b.block+1])
	}
}

// State returns the generator position (PCG's MarshalBinary encoding), to be
// stored in checkpoint metadata; encoding/json writes a []byte as base64. A
// Batcher built with the same tokens, batch and block and given this state
// through SetState draws exactly the batches this one would draw next.
func (b *Batcher) State() ([]byte, error) {
	s, err := b.src.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("data: Batcher.State: %w", err)
	}
	return s, nil
}

// SetState restores a generator position returned by State. The state does
// not record the tokens, batch or block; they must match for the resumed
// batches to be the same.
func (b *Batcher) SetState(state []byte) error {
	if err := b.src.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("data: Batcher.SetState: %w", err)
	}
	return nil
}
