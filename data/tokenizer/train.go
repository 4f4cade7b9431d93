package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// BPEConfig configures TrainBPE.
type BPEConfig struct {
	// VocabSize is the target vocabulary size, specials and the 256 bytes
	// included, so training learns at most VocabSize-MinBPEVocabSize merges.
	// Zero means DefaultBPEVocabSize; otherwise it must be at least
	// MinBPEVocabSize.
	VocabSize int
	// PreSplit is the pre-splitting rule the merges are learned under and the tokenizer
	// encodes with: PreSplitTinychat (the default, "") or PreSplitGPT2, which llama.cpp's
	// and Hugging Face's GPT-2 tokenizers apply, so that an exported model tokenizes every
	// input there as it does here.
	PreSplit string
	// SplitDigits keeps every ASCII digit its own token: no merge is learned from a chunk
	// that holds a digit (both pre-splitting rules keep digits apart from letters), so
	// "464" is "4" "6" "4" and " 464" is " " "4" "6" "4", as LLaMA's tokenizer splits
	// numbers. A model then writes a number it copies, from a tool's result or a passage,
	// with the same tokens wherever it stands; without it the merges decide (" 4" "64").
	// Off by default. The merges alone carry it: an exported tokenizer encodes the same.
	SplitDigits bool
}

// TrainBPE learns a byte-level BPE tokenizer from corpus.
//
// The corpus is pre-split into chunks (see "BPE pre-splitting" in the
// package documentation), counted into a chunk -> frequency table, and
// merges are learned on the unique chunks: each step merges the most frequent adjacent pair (ties go
// to the numerically smallest (left, right) ID pair, so training is
// deterministic), replacing its occurrences left to right. Pair counts are
// updated incrementally for the chunks that contain the merged pair only.
// Training stops after VocabSize-MinBPEVocabSize merges, or earlier when no
// pair occurs at least twice.
//
// It returns an error wrapping [ErrInvalidConfig] if cfg.VocabSize is
// nonzero and below MinBPEVocabSize.
func TrainBPE(corpus string, cfg BPEConfig) (*BPE, error) {
	vocab := cfg.VocabSize
	if vocab == 0 {
		vocab = DefaultBPEVocabSize
	}
	if vocab < MinBPEVocabSize {
		return nil, fmt.Errorf("%w: BPE VocabSize %d is below the minimum %d (%d specials + 256 bytes)",
			ErrInvalidConfig, cfg.VocabSize, MinBPEVocabSize, NumSpecial)
	}
	if cfg.PreSplit != PreSplitTinychat && cfg.PreSplit != PreSplitGPT2 {
		return nil, fmt.Errorf("%w: unknown BPE PreSplit %q (want %q or %q)", ErrInvalidConfig, cfg.PreSplit, PreSplitTinychat, PreSplitGPT2)
	}
	maxMerges := min(vocab-MinBPEVocabSize, math.MaxInt32-firstMergeID)
	merges := learnMerges(corpus, maxMerges, chunker(cfg.PreSplit), cfg.SplitDigits)
	t, err := NewBPE(merges, cfg.PreSplit)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: TrainBPE produced an invalid merge list (bug): %w", err)
	}
	return t, nil
}

// pairEntry is a (lazy) priority-queue entry: the count a pair had when it
// was pushed. Stale entries are recognised on pop by comparing with the
// current count.
type pairEntry struct {
	count int64
	pair  uint64
}

// before reports whether e has priority over o: higher count first, then the
// smaller (left, right) pair.
func (e pairEntry) before(o pairEntry) bool {
	if e.count != o.count {
		return e.count > o.count
	}
	return e.pair < o.pair
}

// learnMerges runs the BPE training loop and returns up to maxMerges merges.
//
// State: the unique chunks as ID sequences (words) with their frequencies,
// the total count of every adjacent pair, for every pair the list of words
// that may contain it (a superset: entries can be stale), and a lazy
// max-heap of pairs. After a merge, only the words listed for the merged
// pair are rewritten, and only the pair counts next to each merge site are
// updated. Pairs that do not contain the new token can only lose counts
// (their heap entries become stale and are refreshed when popped); the new
// pairs are pushed with their final counts. Hence every pair with a positive
// count has a heap entry whose count is at least its current count, and the
// first popped entry whose count is current is the true maximum.
func learnMerges(corpus string, maxMerges int, next func(string, int) int, splitDigits bool) [][2]int {
	if maxMerges <= 0 {
		return nil
	}
	freq := make(map[string]int64)
	for i := 0; i < len(corpus); {
		j := next(corpus, i)
		// One-byte chunks have no pairs.
		if j-i >= 2 && !(splitDigits && strings.ContainsAny(corpus[i:j], "0123456789")) {
			freq[corpus[i:j]]++
		}
		i = j
	}
	keys := make([]string, 0, len(freq))
	for k := range freq {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic word order (the result does not depend on it)

	words := make([][]int32, len(keys))
	counts := make([]int64, len(keys))
	pairCount := make(map[uint64]int64)
	where := make(map[uint64][]int32)
	for w, k := range keys {
		ids := make([]int32, len(k))
		for i := range len(k) {
			ids[i] = byteID + int32(k[i])
		}
		words[w], counts[w] = ids, freq[k]
		for i := 0; i+1 < len(ids); i++ {
			p := pairKey(ids[i], ids[i+1])
			pairCount[p] += counts[w]
			if l := where[p]; len(l) == 0 || l[len(l)-1] != int32(w) {
				where[p] = append(l, int32(w))
			}
		}
	}
	freq, keys = nil, nil

	h := make(minHeap[pairEntry], 0, len(pairCount))
	for p, c := range pairCount {
		h = append(h, pairEntry{c, p})
	}
	h.init()

	merges := make([][2]int, 0, min(maxMerges, len(pairCount)))
	seen := make([]int32, len(words)) // 1-based merge step that last visited each word
	var touched []uint64              // pairs containing the new token
	for len(merges) < maxMerges {
		var best pairEntry
		found := false
		for len(h) > 0 {
			e := h.pop()
			cur := pairCount[e.pair]
			if cur == e.count {
				best, found = e, true
				break
			}
			if cur > 0 {
				h.push(pairEntry{cur, e.pair})
			}
		}
		if !found || best.count < 2 {
			break
		}
		a, b := int32(best.pair>>32), int32(uint32(best.pair))
		m := int32(firstMergeID + len(merges))
		merges = append(merges, [2]int{int(a), int(b)})
		step := int32(len(merges))
		touched = touched[:0]

		for _, w := range where[best.pair] {
			if seen[w] == step {
				continue
			}
			seen[w] = step
			word := words[w]
			i := 0
			for i+1 < len(word) && (word[i] != a || word[i+1] != b) {
				i++
			}
			if i+1 >= len(word) {
				continue // stale: the pair is no longer in this word
			}
			// Rewrite the word left to right. Each merge at i removes the
			// pairs (prev, a) and (b, next) and adds (prev, m) and (m, next),
			// where prev is the already rewritten left neighbour (possibly m
			// itself) and next the original right neighbour; the merged pair
			// itself is dropped from the table after the loop.
			c := counts[w]
			out := word[:i]
			for i < len(word) {
				if i+1 >= len(word) || word[i] != a || word[i+1] != b {
					out = append(out, word[i])
					i++
					continue
				}
				if len(out) > 0 {
					prev := out[len(out)-1]
					addPair(pairCount, pairKey(prev, a), -c)
					touched = notePair(pairCount, where, touched, pairKey(prev, m), c, int32(w))
				}
				out = append(out, m)
				i += 2
				if i < len(word) {
					next := word[i]
					addPair(pairCount, pairKey(b, next), -c)
					touched = notePair(pairCount, where, touched, pairKey(m, next), c, int32(w))
				}
			}
			words[w] = out
		}
		delete(pairCount, best.pair)
		delete(where, best.pair)
		for _, p := range touched {
			if c := pairCount[p]; c > 0 {
				h.push(pairEntry{c, p})
			}
		}
	}
	return merges
}

// addPair adds delta to the count of pair p, dropping it at zero.
func addPair(pairCount map[uint64]int64, p uint64, delta int64) {
	if n := pairCount[p] + delta; n > 0 {
		pairCount[p] = n
	} else {
		delete(pairCount, p)
	}
}

// notePair adds delta > 0 to the count of pair p, which contains the new
// token, and records that word w contains it; the first time p is seen it is
// appended to touched (to be pushed on the heap after the merge step).
func notePair(pairCount map[uint64]int64, where map[uint64][]int32, touched []uint64, p uint64, delta int64, w int32) []uint64 {
	pairCount[p] += delta
	l := where[p]
	if len(l) == 0 {
		touched = append(touched, p)
	}
	if len(l) == 0 || l[len(l)-1] != w {
		where[p] = append(l, w)
	}
	return touched
}
