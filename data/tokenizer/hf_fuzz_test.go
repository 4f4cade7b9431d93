package tokenizer

import (
	"strings"
	"testing"
)

// FuzzGPT2PreSplit checks that GPT-2 pre-splitting cuts any input into non-empty chunks that
// concatenate back to it, and that a GPT-2-split BPE round-trips any bytes.
func FuzzGPT2PreSplit(f *testing.F) {
	for _, s := range append(hfTestStrings, "\n\nHi", "12345 678", "I'M", "e\u0301", "\xff\xfe  x", "'ll 's") {
		f.Add(s)
	}
	tok, err := TrainBPE(hfTestCorpus, BPEConfig{VocabSize: MinBPEVocabSize + 100})
	if err != nil {
		f.Fatal(err)
	}
	gpt2, err := NewBPE(tok.Merges(), PreSplitGPT2)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sb strings.Builder
		for i := 0; i < len(s); {
			j := nextChunkGPT2(s, i)
			if j <= i || j > len(s) {
				t.Fatalf("chunk [%d, %d) of %q", i, j, s)
			}
			sb.WriteString(s[i:j])
			i = j
		}
		if sb.String() != s {
			t.Fatalf("chunks of %q concatenate to %q", s, sb.String())
		}
		ids, _ := gpt2.Encode(s)
		back, err := gpt2.Decode(ids)
		if err != nil || back != s {
			t.Fatalf("%q decodes to %q (%v)", s, back, err)
		}
	})
}

// FuzzReadHF checks that ReadHF never panics and that what it accepts is a usable tokenizer.
func FuzzReadHF(f *testing.F) {
	tok, err := TrainBPE("hello world, hello there", BPEConfig{VocabSize: MinBPEVocabSize + 10})
	if err != nil {
		f.Fatal(err)
	}
	good, err := tok.MarshalHF()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := ReadHF(data)
		if err != nil {
			return
		}
		if _, err := imp.BPE.Encode("hello world"); err != nil {
			t.Fatal(err)
		}
		for _, v := range imp.FromHF {
			if v < -1 || int(v) >= imp.BPE.VocabSize() {
				t.Fatalf("FromHF maps to %d (vocabulary %d)", v, imp.BPE.VocabSize())
			}
		}
	})
}
