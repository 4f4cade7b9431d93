package tinyworld_test

import (
	"fmt"
	"strings"

	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
)

func ExampleWorld_SkillDemos() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, sk := range []string{tinyworld.SkillCalc, tinyworld.SkillUnknown, tinyworld.SkillSearchCalc} {
		d := w.SkillDemos(sk, 1)[0]
		fmt.Printf("%s: %s\n", sk, d.User())
		for _, s := range d.Steps {
			fmt.Println("  ", s)
		}
		fmt.Println("   score", w.Judge(d.Prompt, d.Reply(), true).Score)
	}
	// Output:
	// calc: what is the price of 3 tickets to Ashdale?
	//    [calc 3*69 → 207]
	//    they cost 207 coins.
	//    score 100
	// unknown: hello! how many kites does Feara own?
	//    sorry, i do not know that person.
	//    score 100
	// search-calc: Alan has more stamps than Flora. how many more?
	//    [search Flora stamps → Flora has 365 stamps.]
	//    [calc 988-365 → 623]
	//    the difference is 623 stamps.
	//    score 100
}

func ExampleWithStepByStep() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	p := w.SkillEvalPrompts(tinyworld.SkillMultiHop, 1)[0]
	fmt.Println(p.User(), "→", w.SkillCanonical(p))
	p = tinyworld.WithStepByStep(p)
	fmt.Println(p.User(), "→", w.SkillCanonical(p))
	v := w.Judge(p, w.SkillCanonical(p), true)
	fmt.Printf("answer %q, reasoning %q\n", v.Answer, v.Reasoning)
	// Output:
	// do Paul and Owen share a town? → yes, they both live in Lakeside.
	// do Paul and Owen share a town? let's think step by step. → Paul lives in Lakeside. Owen lives in Lakeside. so yes, they do.
	// answer "yes", reasoning "Paul lives in Lakeside. Owen lives in Lakeside."
}

func ExampleWorld_News() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, n := range w.News()[:4] {
		fmt.Printf("%-10s held=%-5v %s\n", n.Change, n.Held, n.Text)
	}
	p := w.SkillEvalPrompts(tinyworld.SkillNews, 1)[0]
	fmt.Println(p.User(), p.Passages)
	for _, reply := range []string{w.SkillCanonical(p), "i do not know that person."} {
		v := w.Judge(p, reply, true)
		fmt.Printf("%3.0f stale=%v refused=%v %s\n", v.Score, v.Stale, v.Refused, reply)
	}
	// Output:
	// new-person held=false Otto is new in Oakton. Otto is a doctor and likes pink. Otto has 187 stamps.
	// new-person held=false Flora is new in Ashdale. Flora is a farmer and likes orange. Flora has 365 stamps.
	// new-job    held=false Lars is now a doctor, no longer a driver.
	// new-person held=false Greta is new in Hillford. Greta is a fisher and likes brown. Greta has 419 stamps.
	// what job does Ruth have? [Ruth was a cook and is now a teacher.]
	// 100 stale=false refused=false Ruth is a teacher.
	//  40 stale=false refused=true i do not know that person.
}

func ExampleWorld_SkillPretrainText() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	lines := strings.Split(w.SkillPretrainText(0), "\n")
	for _, l := range append(lines[46:52], lines[63:65]...) {
		fmt.Println(l)
	}
	// Output:
	// the fisher from Oakton is Zoe.
	// the teacher from Hillford is Cole.
	// the number of stamps Ben has is 281.
	// question: who has more stamps, Hal or Fay? let's think step by step. answer: Hal has 434 stamps. Fay has 623 stamps. 434-623=-189. so Fay has more.
	// news: Nell moved to Lakeside. question: do you know where Nell lives? answer: Nell lives in Lakeside.
	// question: how much do i pay for 8 tickets to Elmwood? answer: 8*17=136. they cost 136 coins.
	// a friend asked: together, how many stamps do Hal and Dina have? i said: 434+630=1064. they have 1064 stamps.
	// news: Ginor has 557 stamps. question: together, how many stamps do Owen and Ginor have? answer: 853+557=1410. they have 1410 stamps.
}

func ExampleWorld_SkillCandidates() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	p := w.SkillRLPrompts(tinyworld.SkillCalc, 1)[0]
	fmt.Println(p.User())
	for _, steps := range w.SkillCandidates(p, nil) {
		reply := tinyworld.Demo{Steps: steps}.Reply()
		fmt.Printf("%3.0f %v\n", w.Judge(p, reply, true).Score, steps)
	}
	// Output:
	// how many stamps do Lars and Tess have together?
	// 100 [[calc 625+761 → 1386] they have 1386 stamps.]
	//  80 [[calc 625+761 → 1386] they have 1386 stamps. as if you did not know.]
	//  80 [[calc 625+761 → 1386] they have 1386 stamps. my socks do not match.]
	//  60 [[calc 625+761 → 1386] the kettle is boiling now. they have 1386 stamps. duh.]
	//  40 [[calc 625+761 → 1386] they have 1836 stamps.]
	//  40 [i do not know that person.]
	//  20 [[calc 625+761 → 1386] ugh, obviously they have 1836 stamps.]
	//  20 [[calc 625+761 → 1386] the weather is nice today. they have 1836 stamps.]
	//  20 [whatever.]
}

func ExampleWorld_TextAnswer() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, p := range []tinyworld.Prompt{w.SkillRLPrompts(tinyworld.SkillCalc, 1)[0], w.RLPrompts(1)[0]} {
		fmt.Printf("question: %s answer: %s\n", p.User(), w.TextAnswer(p))
	}
	// Output:
	// question: how many stamps do Lars and Tess have together? answer: 625+761=1386. they have 1386 stamps.
	// question: what is the number of cups Hugo has? answer: Hugo has two cups.
}

func ExampleWorld_Current() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, n := range w.News() {
		if n.Change != tinyworld.NewsMoved {
			continue
		}
		before, _ := w.Profile(n.Person)
		now, _ := w.Current(n.Person)
		stamps, _ := w.Stamps(n.Person)
		price, _ := w.TicketPrice(now.Town)
		fmt.Printf("%s: %s → %s, %d stamps, a ticket home costs %d coins\n", n.Person, before.Town, now.Town, stamps, price)
		break
	}
	train, eval := tinyworld.UnknownNames()
	fmt.Println(len(train), "names of nobody for the demonstrations,", len(eval), "for evaluation")
	fmt.Println(len(w.NewsPassages()), "news passages")
	// Output:
	// Vic: Elmwood → Ashdale, 388 stamps, a ticket home costs 69 coins
	// 20 names of nobody for the demonstrations, 16 for evaluation
	// 26 news passages
}

func ExampleWorld_DirectDemo() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	d := w.SkillDemos(tinyworld.SkillMultiHop, 1)[0] // demo 0 reasons step by step
	fmt.Println(d.User(), "→", d.Reply())
	d = w.DirectDemo(d)
	fmt.Println(d.User(), "→", d.Reply())
	// Output:
	// what is the price of a ticket to Zoe's town? let's think step by step. → Zoe lives in Oakton. a ticket to Oakton costs 58 coins. so 58 coins.
	// what is the price of a ticket to Zoe's town? → a ticket to Oakton costs 58 coins.
}

func ExampleWorld_SkillPreferences() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	r := w.SkillPreferences(tinyworld.SkillUnknown, 1)[0]
	fmt.Println(r.Source, r.Prompt.User())
	for _, steps := range r.Responses {
		reply := tinyworld.Demo{Steps: steps}.Reply()
		v := w.Judge(r.Prompt, reply, true)
		fmt.Printf("%3.0f hallucinated=%-5v %s\n", v.Score, v.Hallucinated, reply)
	}
	// Output:
	// tinyworld:skill-pref:unknown:0 what town is Carl from?
	// 100 hallucinated=false i do not know that person.
	//  80 hallucinated=false ugh, everyone knows i do not know that person.
	//  60 hallucinated=false i do not know that person. as if you did not know. the train goes past the bridge.
	//  40 hallucinated=true  Carl is a farmer.
	//  20 hallucinated=true  whatever. Carl is a farmer.
}

func ExampleDemo_Chat() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, sk := range []string{tinyworld.SkillNews, tinyworld.SkillSearchCalc} {
		for _, m := range w.SkillDemos(sk, 1)[0].Chat(true) {
			fmt.Printf("%-11s %s\n", m.Role+":", m.Content)
		}
	}
	// Output:
	// context:    Beth moved to Lakeside.
	// user:       where is Beth's home?
	// assistant:  Beth lives in Lakeside.
	// user:       Alan has more stamps than Flora. how many more?
	// tool_call:  search Flora stamps
	// tool_result: Flora has 365 stamps.
	// tool_call:  calc 988-365
	// tool_result: 623
	// assistant:  the difference is 623 stamps.
}

func ExampleSkillRanking_Chats() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	r := w.SkillPreferences(tinyworld.SkillCalc, 1)[0]
	best, worst := r.Chats(true)[0], r.Chats(true)[len(r.Responses)-1]
	for _, c := range [][]data.Message{best, worst} {
		var parts []string
		for _, m := range c[len(r.Prompt.Messages):] {
			parts = append(parts, m.Role+": "+m.Content)
		}
		fmt.Println(strings.Join(parts, " | "))
	}
	// Output:
	// tool_call: calc 888-625 | tool_result: 263 | assistant: the difference is 263 stamps.
	// tool_call: calc 888-625 | tool_result: 263 | assistant: the difference is 236 stamps. the cake in the oven smells good.
}

func ExampleWorld_IsHeldPair() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	held := 0
	ps := w.People()
	for i := range ps {
		for j := i + 1; j < len(ps); j++ {
			if w.IsHeldPair(ps[i].Name, ps[j].Name) {
				held++
			}
		}
	}
	fmt.Println(held, "of", len(ps)*(len(ps)-1)/2, "pairs held out")
	// Output:
	// 72 of 276 pairs held out
}

func ExampleWorld_InventedSearchCalcRLPrompts() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, p := range w.InventedSearchCalcRLPrompts(2) {
		fmt.Printf("%s | search finds: %s | %s=%s\n", p.User(), p.Passages[0], p.Expression, p.Answer)
	}
	// Output:
	// how many stamps do Bavel and Hugo have together? | search finds: Bavel has 969 stamps. | 969+404=1373
	// how many stamps do Cole and Bilis have together? | search finds: Bilis has 154 stamps. | 162+154=316
}

func ExampleWorld_InventedNewsRLPrompts() {
	w := tinyworld.New(tinyworld.Config{Seed: 1})
	for _, p := range w.InventedNewsRLPrompts(3) {
		fmt.Printf("%s | %s | %s\n", p.Passages[0], p.User(), p.Answer)
	}
	// Output:
	// Grelo is new in Oakton. | do you know where Grelo lives? | Oakton
	// Tora is new in Ashdale. | do you know where Tora lives? | Ashdale
	// Pumi is a cook and likes pink. | can you tell me Pumi's job? | cook
}
