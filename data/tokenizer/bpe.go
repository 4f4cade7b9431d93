package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// BPE vocabulary layout.
const (
	// MinBPEVocabSize is the vocabulary size of a BPE tokenizer without
	// merges: the NumSpecial specials plus the 256 single bytes (byte b has
	// ID NumSpecial+b). Merge i gets ID MinBPEVocabSize+i.
	MinBPEVocabSize = NumSpecial + 256
	// DefaultBPEVocabSize is the vocabulary size TrainBPE uses when
	// BPEConfig.VocabSize is zero: 512 merges.
	DefaultBPEVocabSize = MinBPEVocabSize + 512
)

// byteID is the ID of byte 0 and firstMergeID the ID of merge 0 in the
// tokenizers this version makes (an old one's are BPE.first and firstMerge).
const (
	byteID       = NumSpecial
	firstMergeID = MinBPEVocabSize
)

// Encoding-cache parameters: chunks up to cacheMaxChunk bytes are cached;
// the cache keeps two generations of at most cacheGenSize entries each (a
// cheap approximation of LRU), so it holds at most 2*cacheGenSize entries.
const (
	cacheMaxChunk = 64
	cacheGenSize  = 1 << 14
)

// BPE is a GPT-2 style byte-level BPE tokenizer: IDs 0..Specials()-1 are the
// specials, the next 256 IDs the single bytes, then one ID per merge in merge
// order. Text is pre-split into word/number/symbol/whitespace chunks (see
// "BPE pre-splitting" in the package documentation) and merges apply within
// a chunk only, in rank (training) order. Any byte string, including invalid UTF-8,
// round-trips through Encode and Decode.
//
// Create one with [TrainBPE], [NewBPEFromMerges] or [Unmarshal]. A BPE is
// safe for concurrent use. It caches the IDs of recently encoded chunks of
// up to 64 bytes (at most 2*16384 entries, a few MB at worst), shared by
// concurrent callers under a mutex.
type BPE struct {
	merges [][2]int
	ranks  map[uint64]int32 // pairKey(a, b) -> merge index
	tokens [][]byte         // bytes of each ID >= specials; nil for specials
	pre    string           // pre-splitting rule: PreSplitTinychat or PreSplitGPT2

	// specials is the number of special tokens (NumSpecial, or
	// LegacyNumSpecial for an old tokenizer); byte b has ID first+b and
	// merge i ID firstMerge+i.
	specials, first, firstMerge int32

	mu        sync.Mutex // guards the cache
	cacheCur  map[string][]int32
	cachePrev map[string][]int32
}

var _ Tokenizer = (*BPE)(nil)

// pairKey packs an ID pair into one map key.
func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// NewBPEFromMerges builds a BPE tokenizer from a merge list: merge i joins
// tokens merges[i][0] and merges[i][1] into the new token
// MinBPEVocabSize+i. Every merge must reference byte or earlier merge IDs
// (never specials) and no pair may appear twice; otherwise the error wraps
// [ErrInvalidData].
func NewBPEFromMerges(merges [][2]int) (*BPE, error) {
	return newBPE(merges, NumSpecial, PreSplitTinychat)
}

// newBPE builds a BPE with the given number of specials (its byte IDs
// start there) and pre-splitting rule.
func newBPE(merges [][2]int, specials int, preSplit string) (*BPE, error) {
	if preSplit != PreSplitTinychat && preSplit != PreSplitGPT2 {
		return nil, fmt.Errorf("%w: unknown pre-splitting rule %q (want %q or %q)", ErrInvalidData, preSplit, PreSplitTinychat, PreSplitGPT2)
	}
	firstMerge := specials + 256
	if len(merges) > math.MaxInt32-firstMerge {
		return nil, fmt.Errorf("%w: %d merges is too many", ErrInvalidData, len(merges))
	}
	t := &BPE{
		merges:     slices.Clone(merges),
		ranks:      make(map[uint64]int32, len(merges)),
		tokens:     make([][]byte, firstMerge+len(merges)),
		pre:        preSplit,
		specials:   int32(specials),
		first:      int32(specials),
		firstMerge: int32(firstMerge),
	}
	if t.merges == nil {
		t.merges = [][2]int{}
	}
	for b := range 256 {
		t.tokens[specials+b] = []byte{byte(b)}
	}
	for i, m := range merges {
		id := firstMerge + i
		for _, x := range m {
			if x < specials || x >= id {
				return nil, fmt.Errorf("%w: merge %d (token %d) = %v references ID %d, want %d <= ID < %d",
					ErrInvalidData, i, id, m, x, specials, id)
			}
		}
		k := pairKey(int32(m[0]), int32(m[1]))
		if prev, dup := t.ranks[k]; dup {
			return nil, fmt.Errorf("%w: merge %d repeats merge %d %v", ErrInvalidData, i, prev, m)
		}
		t.ranks[k] = int32(i)
		a, b := t.tokens[m[0]], t.tokens[m[1]]
		tok := make([]byte, 0, len(a)+len(b))
		t.tokens[id] = append(append(tok, a...), b...)
	}
	return t, nil
}

// Merges returns a copy of the merge list: merge i joined Merges()[i][0] and
// Merges()[i][1] into token Specials()+256+i (MinBPEVocabSize+i for the
// tokenizers this version makes).
func (t *BPE) Merges() [][2]int { return slices.Clone(t.merges) }

// Specials is the number of special tokens, the ID of byte 0: NumSpecial,
// or LegacyNumSpecial for a tokenizer restored from JSON written before the
// tool tokens (see the package documentation).
func (t *BPE) Specials() int { return int(t.specials) }

// VocabSize is MinBPEVocabSize plus the number of merges.
func (t *BPE) VocabSize() int { return len(t.tokens) }

// Kind returns "bpe".
func (t *BPE) Kind() string { return KindBPE }

// MarshalJSON serialises the tokenizer as
// {"kind":"bpe","merges":[[a,b],...],"specials":10} with the merge pairs as
// IDs, plus "pre":"gpt2" for a tokenizer with GPT-2's pre-splitting; an old
// tokenizer (LegacyNumSpecial) is written as it was, without "specials".
func (t *BPE) MarshalJSON() ([]byte, error) {
	m := make([][]int, len(t.merges))
	for i, p := range t.merges {
		m[i] = []int{p[0], p[1]}
	}
	data, err := json.Marshal(jsonForm{Kind: KindBPE, Merges: &m, Pre: t.pre, Specials: specialsField(int(t.specials))})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: marshal bpe tokenizer: %w", err)
	}
	return data, nil
}

// Decode turns IDs back into text: the exact bytes that were encoded (which
// need not be valid UTF-8), with special tokens rendered as their
// SpecialNames. An ID outside [0, VocabSize) gives an error wrapping
// [ErrInvalidID].
func (t *BPE) Decode(ids []int32) (string, error) {
	var sb strings.Builder
	sb.Grow(len(ids) * 4)
	for pos, id32 := range ids {
		id := int(id32)
		switch {
		case id >= int(t.specials) && id < len(t.tokens):
			sb.Write(t.tokens[id])
		case id >= 0 && id < int(t.specials):
			sb.WriteString(SpecialNames[id])
		default:
			return "", invalidID(id, pos, len(t.tokens))
		}
	}
	return sb.String(), nil
}

// Encode turns text (any bytes, valid UTF-8 or not) into token IDs. It never
// returns an error and never produces a special token. It is safe for
// concurrent use.
func (t *BPE) Encode(text string) ([]int32, error) {
	out := make([]int32, 0, len(text)/3+1)
	next := nextChunk
	if t.pre == PreSplitGPT2 {
		next = nextChunkGPT2
	}
	for i := 0; i < len(text); {
		j := next(text, i)
		out = t.encodeChunk(text[i:j], out)
		i = j
	}
	return out, nil
}

// encodeChunk appends the IDs of one pre-split chunk to out.
func (t *BPE) encodeChunk(chunk string, out []int32) []int32 {
	if len(chunk) == 1 {
		return append(out, int32(t.first)+int32(chunk[0]))
	}
	cacheable := len(chunk) <= cacheMaxChunk
	if cacheable {
		if ids, ok := t.cacheGet(chunk); ok {
			return append(out, ids...)
		}
	}
	ids := t.mergeChunk(chunk)
	if cacheable {
		t.cachePut(chunk, ids)
	}
	return append(out, ids...)
}

// cacheGet looks chunk up in the cache; an entry found in the previous
// generation is promoted to the current one.
func (t *BPE) cacheGet(chunk string) ([]int32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ids, ok := t.cacheCur[chunk]; ok {
		return ids, true
	}
	if ids, ok := t.cachePrev[chunk]; ok {
		t.putLocked(strings.Clone(chunk), ids)
		return ids, true
	}
	return nil, false
}

// cachePut stores the (never again modified) IDs of chunk.
func (t *BPE) cachePut(chunk string, ids []int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Clone the key: chunk is a substring of the caller's text, which the
	// cache must not keep alive.
	t.putLocked(strings.Clone(chunk), ids)
}

func (t *BPE) putLocked(chunk string, ids []int32) {
	if len(t.cacheCur) >= cacheGenSize {
		t.cachePrev = t.cacheCur
		t.cacheCur = nil
	}
	if t.cacheCur == nil {
		t.cacheCur = make(map[string][]int32)
	}
	t.cacheCur[chunk] = ids
}

// naiveMaxLen is the longest chunk merged with the simple quadratic
// algorithm; longer chunks use the heap-based one.
const naiveMaxLen = 48

// mergeChunk returns the IDs of chunk: its bytes with the merges applied in
// rank order, all occurrences of the lowest-ranked pair left to right, then
// the next, as in GPT-2.
func (t *BPE) mergeChunk(chunk string) []int32 {
	ids := make([]int32, len(chunk))
	for i := range len(chunk) {
		ids[i] = t.first + int32(chunk[i])
	}
	if len(t.ranks) == 0 {
		return ids
	}
	if len(ids) <= naiveMaxLen {
		return t.mergeNaive(ids)
	}
	return t.mergeHeap(ids)
}

// mergeNaive applies the merges to ids in place: O(n) per distinct merge.
func (t *BPE) mergeNaive(ids []int32) []int32 {
	for len(ids) >= 2 {
		best, at := int32(math.MaxInt32), -1
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := t.ranks[pairKey(ids[i], ids[i+1])]; ok && r < best {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		a, b, m := ids[at], ids[at+1], t.firstMerge+best
		out := ids[:at]
		for i := at; i < len(ids); {
			if i+1 < len(ids) && ids[i] == a && ids[i+1] == b {
				out = append(out, m)
				i += 2
			} else {
				out = append(out, ids[i])
				i++
			}
		}
		ids = out
	}
	return ids
}

// mergeHeap applies the merges to ids with a doubly linked list and a
// min-heap of candidate pairs ordered by (rank, position): O(n log n). It
// gives the same result as mergeNaive: a merge only creates pairs that
// contain the new token, whose ranks are larger, so the heap pops ranks in
// non-decreasing order and each rank's occurrences left to right.
func (t *BPE) mergeHeap(ids []int32) []int32 {
	n := len(ids)
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range n {
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	next[n-1] = -1
	// Heap entries are rank<<32 | position, so plain uint64 order is
	// (rank, position) order.
	h := make(minHeap[rankPos], 0, n)
	for i := 0; i+1 < n; i++ {
		if r, ok := t.ranks[pairKey(ids[i], ids[i+1])]; ok {
			h = append(h, rankPos(uint64(r)<<32|uint64(i)))
		}
	}
	h.init()
	for len(h) > 0 {
		e := uint64(h.pop())
		r, p := int32(e>>32), int32(uint32(e))
		q := next[p]
		if ids[p] < 0 || q < 0 {
			continue // p was merged away or has no right neighbour
		}
		if cur, ok := t.ranks[pairKey(ids[p], ids[q])]; !ok || cur != r {
			continue // stale entry: the pair at p changed
		}
		ids[p] = t.firstMerge + r
		nq := next[q]
		next[p] = nq
		if nq >= 0 {
			prev[nq] = p
		}
		ids[q] = -1
		if pp := prev[p]; pp >= 0 {
			if r2, ok := t.ranks[pairKey(ids[pp], ids[p])]; ok {
				h.push(rankPos(uint64(r2)<<32 | uint64(pp)))
			}
		}
		if nq >= 0 {
			if r2, ok := t.ranks[pairKey(ids[p], ids[nq])]; ok {
				h.push(rankPos(uint64(r2)<<32 | uint64(p)))
			}
		}
	}
	out := ids[:0]
	for p := int32(0); p >= 0; p = next[p] {
		out = append(out, ids[p]) // writes at index <= p: safe in place
	}
	return out
}

// rankPos is an encoding heap entry, rank<<32 | position, so plain uint64 order is (rank,
// position) order.
type rankPos uint64

func (a rankPos) before(b rankPos) bool { return a < b }

// specialsField is the JSON "specials" field of a tokenizer with n
// specials: absent for LegacyNumSpecial, so an old tokenizer's JSON is
// unchanged.
func specialsField(n int) *int {
	if n == LegacyNumSpecial {
		return nil
	}
	return &n
}
