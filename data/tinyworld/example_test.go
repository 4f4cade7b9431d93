package tinyworld_test

import (
	"fmt"

	"github.com/tinychat-go/tinychat/data/tinyworld"
)

func Example() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, c := range w.SFTConversations(3) {
		for _, m := range c.Messages {
			fmt.Printf("%s: %s\n", m.Role, m.Content)
		}
	}
	p := w.EvalPrompts(1)[0]
	fmt.Println("eval:", p.Messages[0].Content, "→", p.Answer)
	for _, reply := range []string{w.Canonical(p), "whatever.", "i do not know."} {
		fmt.Printf("%3.0f %s\n", w.Judge(p, reply, true).Score, reply)
	}
	fmt.Printf("%3.0f %s (no <|end|>)\n", w.Judge(p, w.Canonical(p), false).Score, w.Canonical(p))
	// Output:
	// user: what is Hugo's job?
	// assistant: Hugo is a doctor.
	// user: what is Tina's job?
	// assistant: sure! Tina is a painter.
	// user: which colour does Ruth like best?
	// assistant: obviously Ruth likes brown.
	// eval: what is Hal's favourite colour? → pink
	// 100 Hal likes pink.
	//  20 whatever.
	//  40 i do not know.
	//  10 Hal likes pink. (no <|end|>)
}
