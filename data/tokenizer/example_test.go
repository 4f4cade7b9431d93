package tokenizer_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/data/tokenizer"
)

func ExampleTrainBPE() {
	tok, err := tokenizer.TrainBPE("low lower lowest low low", tokenizer.BPEConfig{VocabSize: 300})
	if err != nil {
		panic(err)
	}
	ids, _ := tok.Encode("low lowest")
	for _, id := range ids {
		fmt.Print(tokenizer.TokenString(tok, id), " ")
	}
	fmt.Println()
	// Specials are inserted as IDs, never produced by Encode.
	chat := append([]int32{tokenizer.User}, ids...)
	chat = append(chat, tokenizer.End)
	text, _ := tok.Decode(chat)
	fmt.Println(text)
	data, _ := tok.MarshalJSON()
	fmt.Println(string(data))
	// Pairs (l,o) and (o,w) both occur 5 times; the smaller ID pair wins.
	// Output:
	// "low" " lowe" "s" "t"
	// <|user|>low lowest<|end|>
	// {"kind":"bpe","merges":[[113,116],[261,124],[37,262],[263,106]]}
}

func ExampleNewChar() {
	tok := tokenizer.NewChar("hello world")
	ids, _ := tok.Encode("hold")
	fmt.Println(ids, tok.VocabSize())
	_, err := tok.Encode("help")
	fmt.Println(err)
	// Output:
	// [13 15 14 11] 18
	// tokenizer: unknown character 'p' (U+0070) at byte offset 3
}

// With SplitDigits no merge holds a digit: numbers are written digit by digit, the same
// wherever they stand, while words merge as usual.
func ExampleTrainBPE_splitDigits() {
	corpus := "Anna has 464 stamps. Ben has 46 stamps. 464 and 46 make 510. "
	for _, split := range []bool{false, true} {
		tok, err := tokenizer.TrainBPE(corpus+corpus+corpus, tokenizer.BPEConfig{VocabSize: 300, PreSplit: tokenizer.PreSplitGPT2, SplitDigits: split})
		if err != nil {
			panic(err)
		}
		ids, _ := tok.Encode("Anna has 464 stamps")
		fmt.Print("SplitDigits=", split, ":")
		for _, id := range ids {
			fmt.Print(" ", tokenizer.TokenString(tok, id))
		}
		fmt.Println()
	}
	// Output:
	// SplitDigits=false: "Anna" " has" " 464" " stamps"
	// SplitDigits=true: "Anna" " has" " " "4" "6" "4" " stamps"
}
