package tokenizer_test

import (
	"encoding/json"
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

func ExampleByteLevelString() {
	s := tokenizer.ByteLevelString([]byte(" hi\n"))
	b, _ := tokenizer.ByteLevelBytes(s)
	fmt.Printf("%s %q\n", s, b)
	// Output:
	// ĠhiĊ " hi\n"
}

func ExampleTokenStrings() {
	tok, _ := tokenizer.TrainBPE("low lower lowest", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 3})
	strs, _ := tokenizer.TokenStrings(tok)
	fmt.Println(strs[tokenizer.End], strs[tokenizer.MinBPEVocabSize:])
	b, _ := tok.TokenBytes(tokenizer.MinBPEVocabSize + 2)
	fmt.Printf("%q\n", b)
	// Output:
	// <|end|> [lo low Ġlow]
	// " low"
}

func ExampleNewBPE() {
	b := func(c byte) int { return tokenizer.NumSpecial + int(c) } // the ID of byte c
	m := tokenizer.MinBPEVocabSize                                 // the ID of merge 0
	merges := [][2]int{{b('\n'), b('\n')}, {b('3'), b('4')}, {b('1'), b('2')}, {m + 2, b('3')}}
	for _, pre := range []string{tokenizer.PreSplitTinychat, tokenizer.PreSplitGPT2} {
		t, _ := tokenizer.NewBPE(merges, pre)
		ids, _ := t.Encode("\n\nHi 12345")
		for _, id := range ids {
			fmt.Print(tokenizer.TokenString(t, id), " ")
		}
		fmt.Printf("(pre-split %q)\n", t.PreSplit())
	}
	// Output:
	// "\n\n" "H" "i" " " "123" "4" "5" (pre-split "")
	// "\n" "\n" "H" "i" " " "12" "34" "5" (pre-split "gpt2")
}

func ExampleBPE_MarshalHF() {
	tok, _ := tokenizer.TrainBPE("hello hello", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 2})
	data, _ := tok.MarshalHF()
	var f struct {
		Model struct {
			Type   string   `json:"type"`
			Merges []string `json:"merges"`
		} `json:"model"`
		AddedTokens []struct{ Content string } `json:"added_tokens"`
	}
	_ = json.Unmarshal(data, &f)
	fmt.Println(f.Model.Type, f.Model.Merges, len(f.AddedTokens), f.AddedTokens[tokenizer.User].Content)
	// Output:
	// BPE [e l h el] 10 <|user|>
}

func ExampleReadHF() {
	tok, _ := tokenizer.TrainBPE("hello hello", tokenizer.BPEConfig{VocabSize: tokenizer.MinBPEVocabSize + 2})
	data, _ := tok.MarshalHF()
	imp, err := tokenizer.ReadHF(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(imp.BPE.Merges()[0] == tok.Merges()[0], imp.FromHF[tokenizer.End], len(imp.Dropped))
	// Output:
	// true 4 0
}

func ExampleReadGPT2Files() {
	// GPT-2's own files list the 256 byte tokens first (in their byte-to-unicode order), then
	// one token per merge, then <|endoftext|>. A two-merge miniature:
	vocab := map[string]int{}
	for b := range 256 {
		vocab[tokenizer.ByteLevelString([]byte{byte(b)})] = b
	}
	vocab["Ġh"], vocab["Ġhi"], vocab["<|endoftext|>"] = 256, 257, 258
	vj, _ := json.Marshal(vocab)
	imp, err := tokenizer.ReadGPT2Files(vj, []byte("#version: 0.2\nĠ h\nĠh i\n"))
	if err != nil {
		panic(err)
	}
	ids, _ := imp.BPE.Encode("\n\n hi")
	fmt.Println(len(ids), tokenizer.TokenString(imp.BPE, ids[2]), imp.FromHF[257] == ids[2], imp.FromHF[258] == tokenizer.End)
	// Output:
	// 3 " hi" true true
}
