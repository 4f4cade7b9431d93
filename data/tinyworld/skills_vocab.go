package tinyworld

import (
	"slices"
	"strings"
)

// The word tables of the new skills (see skills.go). Quantities and prices
// are written in digits ("347 stamps", "28 coins"), never as words; the
// older tables keep their counts in words, so the two never mix.
//
// Extra placeholders: {Z} (the second person), {S} (stamps, digits), {M}
// (a ticket's price in coins, digits), {K} (how many tickets, a digit),
// {R} (a calculation's result), {W} (the person with more stamps), {O}
// (the old value of a changed fact), {U} (a second town).

// newsNames are the people who appear only in the news store: never in the
// world, in the pretraining text or in the refusal and reading data.
var newsNames = []string{
	"Bram", "Cleo", "Dora", "Emil", "Flora", "Greta",
	"Ivan", "Jonas", "Lena", "Mara", "Nico", "Otto",
}

// unknownTrainNames are names of nobody, used in the chat data's refusal
// demonstrations.
var unknownTrainNames = []string{
	"Abel", "Bess", "Carl", "Dirk", "Edna", "Felix", "Gwen", "Hans", "Iris", "Jude",
	"Karl", "Lola", "Max", "Nina", "Opal", "Pete", "Rhea", "Saul", "Troy", "Vera",
}

// unknownEvalNames are names of nobody that appear in no generated text
// except the held-out evaluation prompts of [SkillUnknown].
var unknownEvalNames = []string{
	"Adam", "Bella", "Chloe", "Derek", "Elsa", "Fritz", "Greer", "Henry",
	"Ivy", "James", "Lucy", "Marco", "Nora", "Oscar", "Rosa", "Simon",
}

// Syllables of invented names and towns (the reading curriculum and the
// refusal lines of the pretraining text): a name is onset+vowel+onset+vowel
// (+ a final consonant half of the time), a town a name stem and a suffix.
var (
	inventOnsets  = []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"}
	inventVowels  = []string{"a", "e", "i", "o", "u"}
	inventFinals  = []string{"n", "l", "r", "s"}
	inventSuffix  = []string{"ton", "by", "ford", "dale", "wick", "mere"}
	stampsName    = "stamps"
	currencyWords = []string{"coin", "coins"}
)

// Parts of the search demonstrations' invented names (searchDemoName), shaped like real names.
var (
	searchOnsets  = []string{"b", "br", "c", "cl", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "r", "s", "st", "t", "tr", "v", "w"}
	searchVowels  = []string{"a", "e", "i", "o", "u", "ea", "ia", "ae"}
	searchEndings = []string{"m", "n", "na", "la", "ra", "lo", "no", "nz", "rt", "ss", "tta", "mi", "e", "o", "ck", "ld"}
)

// skillPhrasings are the question phrasings of the new kinds; one of each
// is held out of all chat data (see [World.HeldPhrasing]).
var skillPhrasings = map[string][]string{
	KindStamps: {
		"how many stamps does {X} have?",
		"how many stamps has {X} got?",
		"how many stamps does {X} own?",
		"what is the number of stamps {X} has?",
		"can you tell me how many stamps {X} has?",
	},
	KindPrice: {
		"what does a ticket to {T} cost?",
		"how much is a ticket to {T}?",
		"what is the price of a ticket to {T}?",
		"how many coins is a ticket to {T}?",
		"how much does a ticket to {T} cost?",
	},
	KindTogether: {
		"how many stamps do {X} and {Z} have together?",
		"how many stamps do {X} and {Z} have in all?",
		"what is the total number of stamps of {X} and {Z}?",
		"{X} and {Z} have how many stamps together?",
		"together, how many stamps do {X} and {Z} have?",
	},
	KindDifference: {
		"how many more stamps does {X} have than {Z}?",
		"how many stamps more than {Z} does {X} have?",
		"by how many stamps does {X} beat {Z}?",
		"how many stamps does {X} have more than {Z}?",
		"{X} has more stamps than {Z}. how many more?",
	},
	KindCost: {
		"what do {K} tickets to {T} cost?",
		"how much are {K} tickets to {T}?",
		"how many coins do {K} tickets to {T} cost?",
		"what is the price of {K} tickets to {T}?",
		"how much do i pay for {K} tickets to {T}?",
	},
	KindSameTown: {
		"do {X} and {Z} live in the same town?",
		"are {X} and {Z} from the same town?",
		"is {X}'s town the same as {Z}'s?",
		"do {X} and {Z} share a town?",
		"do {X} and {Z} live in one town?",
	},
	KindMore: {
		"who has more stamps, {X} or {Z}?",
		"who owns more stamps, {X} or {Z}?",
		"which of {X} and {Z} has more stamps?",
		"does {X} or {Z} have more stamps?",
		"between {X} and {Z}, who has more stamps?",
	},
	KindColourOf: {
		"what colour does the {J} from {T} like?",
		"what is the favourite colour of the {J} from {T}?",
		"which colour does the {J} in {T} like best?",
		"the {J} from {T} likes which colour?",
		"what colour is the favourite of the {J} from {T}?",
	},
	KindTicketHome: {
		"what does a ticket to {X}'s town cost?",
		"how much is a ticket to the town where {X} lives?",
		"what is the price of a ticket to {X}'s town?",
		"how many coins is a ticket to {X}'s home town?",
		"how much does a ticket to where {X} lives cost?",
	},
}

// skillReplies are the canonical direct replies of the new kinds.
var skillReplies = map[string]string{
	KindStamps:     "{X} has {S} stamps.",
	KindPrice:      "a ticket to {T} costs {M} coins.",
	KindTogether:   "they have {R} stamps.",
	KindDifference: "the difference is {R} stamps.",
	KindCost:       "they cost {R} coins.",
	KindMore:       "{W} has more stamps.",
	KindColourOf:   "the {J} from {T} likes {C}.",
	KindTicketHome: "a ticket to {T} costs {M} coins.",
}

// Same-town replies, direct and as the conclusion of reasoning.
const (
	sameYes     = "yes, they both live in {T}."
	sameNo      = "no, they do not."
	sameYesStep = "so yes, they do."
	sameNoStep  = "so no, they do not."
)

// Reasoning sentences of the multi-hop kinds and their conclusions.
var (
	stepHome      = "{X} lives in {T}."
	stepStamps    = "{X} has {S} stamps."
	stepWho       = "the {J} from {T} is {X}."
	stepColour    = "{X} likes {C}."
	stepPrice     = "a ticket to {T} costs {M} coins."
	concludeMore  = "so {W} has more."
	concludeColor = "so {C}."
	concludePrice = "so {M} coins."
)

// StepTrigger is the user phrase that asks for step-by-step reasoning; it
// follows the question after a space.
const StepTrigger = "let's think step by step."

// Refusals: the canonical reply to a question about an unknown person, and
// its variants in the demonstrations. None of them copies the name.
var refusals = []string{
	"i do not know that person.",
	"sorry, i do not know that person.",
	"i do not know anyone by that name.",
}

// refusalPhrases mark a reply as a refusal (matched on whole words).
var refusalPhrases = []string{
	"do not know", "don t know", "dont know", "never heard", "no idea",
	"cannot tell", "can t tell", "not sure",
}

// Pretraining forms of the new facts.
var (
	stampForms = []string{
		"{X} has {S} stamps.",
		"{X} owns {S} stamps.",
		"{X} collects stamps and has {S} of them.",
		"the number of stamps {X} has is {S}.",
	}
	priceForms = []string{
		"a ticket to {T} costs {M} coins.",
		"the price of a ticket to {T} is {M} coins.",
		"one ticket to {T} is {M} coins.",
	}
	// whoForms name the only one of a job in a town; the first is the
	// colour-of question's first step ([stepWho]).
	whoForms = []string{
		"the {J} from {T} is {X}.",
		"the only {J} in {T} is {X}.",
		"in {T}, the {J} is {X}.",
	}
	// calcForm writes a calculation in the pretraining text: the
	// expression {E}, its value {R} and the reply {A}.
	calcForm = "{E}={R}. {A}"
)

// News passages (the news store's, and the reading curriculum's about
// invented people), one sentence each, short so that three fit a chat.
var (
	movedForms = []string{
		"{X} moved to {T}.",
		"{X} left {O} for {T}.",
	}
	newJobForms = []string{
		"{X} is now a {J}, no longer a {O}.",
		"{X} was a {O} and is now a {J}.",
	}
	// newPersonForms are the passages of a new person's news, one per
	// fact group: the town, the job and colour, the stamps.
	newPersonForms = []string{"{X} is new in {T}.", "{X} is a {J} and likes {C}.", "{X} has {S} stamps."}
)

// SkillsAlphabet returns every character any generated text can contain,
// the new skills' included (their pretraining text, demonstrations with
// tool inputs and outputs, prompts, passages, candidates): [World.Alphabet]
// plus digits, the calculator's operators and the letters of the new
// names. Sorted by code point; the same for every seed.
func (w *World) SkillsAlphabet() string { return skillsAlphabet }

// skillsAlphabet is computed from the tables once.
var skillsAlphabet = computeSkillsAlphabet()

// computeSkillsAlphabet collects the characters of the original alphabet
// and of every skill table.
func computeSkillsAlphabet() string {
	all := []string{computeAlphabet(), "0123456789+-*=", StepTrigger, stampsName, calcForm}
	for _, ns := range [][]string{newsNames, unknownTrainNames, unknownEvalNames, inventVowels, inventFinals, inventSuffix, currencyWords} {
		all = append(all, ns...)
	}
	for _, o := range inventOnsets {
		all = append(all, o, strings.ToUpper(o))
	}
	for _, v := range skillPhrasings {
		all = append(all, v...)
	}
	for _, v := range skillReplies {
		all = append(all, v)
	}
	all = append(all, sameYes, sameNo, sameYesStep, sameNoStep, stepHome, stepStamps, stepWho, stepColour,
		stepPrice, concludeMore, concludeColor, concludePrice, "news: ", " question: ", " answer: ", ToolCalculator, ToolSearch)
	for _, fs := range [][]string{refusals, stampForms, priceForms, movedForms, newJobForms, newPersonForms} {
		all = append(all, fs...)
	}
	seen := make(map[rune]bool)
	for _, s := range all {
		for _, r := range stripSkillPlaceholders(s) {
			seen[r] = true
		}
	}
	rs := make([]rune, 0, len(seen))
	for r := range seen {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return string(rs)
}

// stripSkillPlaceholders removes every template slot from s.
func stripSkillPlaceholders(s string) string {
	for _, p := range []string{"{X}", "{Z}", "{T}", "{U}", "{J}", "{C}", "{O}", "{W}", "{K}", "{Y}", "{P}", "{N}", "{S}", "{M}", "{R}", "{E}", "{A}", "{L}", "{Q}"} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}
