package tinyworld

// The word tables every generated text is built from. Everything is lower
// case except the proper names (people and towns); the only punctuation is
// . , ! ? ' : and the only whitespace is the space and (in the pretraining
// text) the newline. Counts are always written as words ("three"), never as
// digits. The tables are fixed (the seed only picks from them), so the
// alphabet is the same for every seed and world size.
//
// Templates use the placeholders {X} (person), {T} (town), {N} (count word),
// {Y} (object noun, singular for one and plural otherwise), {P} (object
// plural, for questions), {J} (job) and {C} (colour).

// names are the people's first names: distinct, short, and none of them an
// English word that appears elsewhere.
var names = []string{
	"Anna", "Ben", "Cara", "Dan", "Eva", "Finn", "Gina", "Hugo",
	"Ida", "Jack", "Kate", "Leo", "Mia", "Ned", "Olga", "Paul",
	"Rita", "Sam", "Tina", "Uma", "Vic", "Wes", "Yara", "Zoe",
	"Alan", "Beth", "Cole", "Dina", "Eli", "Fay", "Gil", "Hal",
	"Joel", "Kira", "Lars", "Milo", "Nell", "Owen", "Ruth", "Tess",
}

// towns are the places people live in.
var towns = []string{
	"Oakton", "Riverby", "Hillford", "Millbrook", "Ashdale",
	"Fernhill", "Pinecrest", "Lakeside", "Stonebury", "Elmwood",
}

// object is a countable thing a person has.
type object struct{ one, many string }

// objects are the things people have (regular plurals only).
var objects = []object{
	{"apple", "apples"}, {"cat", "cats"}, {"book", "books"}, {"dog", "dogs"},
	{"hat", "hats"}, {"cup", "cups"}, {"pen", "pens"}, {"kite", "kites"},
	{"ball", "balls"}, {"boat", "boats"}, {"drum", "drums"}, {"lamp", "lamps"},
}

// jobs are the people's jobs (all start with a consonant, so "a {J}" reads
// right).
var jobs = []string{
	"baker", "farmer", "teacher", "doctor", "painter", "nurse",
	"driver", "cook", "tailor", "potter", "singer", "fisher",
}

// colours are the people's favourite colours.
var colours = []string{
	"red", "blue", "green", "yellow", "purple", "orange", "pink", "brown",
}

// countWords writes the counts 0..12; people have 1..9 of their object, the
// rest only serve the judge (a reply naming any other number is wrong).
var countWords = []string{
	"zero", "one", "two", "three", "four", "five", "six",
	"seven", "eight", "nine", "ten", "eleven", "twelve",
}

// Question phrasings per kind. One phrasing of every kind is held out of
// all chat data (see World.HeldPhrasing).
var phrasings = map[string][]string{
	KindHome: {
		"where does {X} live?",
		"where is {X}'s home?",
		"which town does {X} live in?",
		"what town is {X} from?",
		"in which town does {X} live?",
		"do you know where {X} lives?",
	},
	KindCount: {
		"how many {P} does {X} have?",
		"how many {P} has {X} got?",
		"how many {P} does {X} own?",
		"what is the number of {P} {X} has?",
		"can you tell me how many {P} {X} has?",
		"do you know how many {P} {X} has?",
	},
	KindJob: {
		"what is {X}'s job?",
		"what does {X} do for work?",
		"what work does {X} do?",
		"what job does {X} have?",
		"can you tell me {X}'s job?",
		"what does {X} work as?",
	},
	KindColour: {
		"what colour does {X} like?",
		"what is {X}'s favourite colour?",
		"which colour does {X} like best?",
		"what colour is {X}'s favourite?",
		"can you tell me {X}'s favourite colour?",
		"what colour does {X} love most?",
	},
	KindGreet: {
		"hello!",
		"hi!",
		"hi there!",
		"good morning!",
		"hey, how are you?",
		"hello, nice to meet you!",
	},
	KindThanks: {
		"thank you!",
		"thanks!",
		"thanks a lot!",
		"thank you so much!",
		"that helps, thanks!",
		"great, thank you!",
	},
}

// questionPrefixes optionally open a fact question ("" most often).
var questionPrefixes = []string{
	"", "hi! ", "hello! ", "excuse me, ", "quick question: ", "please tell me: ",
}

// goodReplies are correct, polite, concise replies per kind. The first one
// is the canonical reply (World.Canonical).
var goodReplies = map[string][]string{
	KindHome: {
		"{X} lives in {T}.",
		"{X}'s home is in {T}.",
		"sure! {X} lives in {T}.",
		"{X} lives in the town of {T}.",
	},
	KindCount: {
		"{X} has {N} {Y}.",
		"sure! {X} has {N} {Y}.",
		"{X} owns {N} {Y}.",
	},
	KindJob: {
		"{X} is a {J}.",
		"{X} works as a {J}.",
		"sure! {X} is a {J}.",
	},
	KindColour: {
		"{X} likes {C}.",
		"{X}'s favourite colour is {C}.",
		"sure! {X} likes {C} best.",
	},
	KindGreet: {
		"hello! how can i help you?",
		"hi! what would you like to know?",
		"hello! nice to meet you.",
	},
	KindThanks: {
		"you are welcome!",
		"you are welcome! happy to help.",
		"glad i could help!",
	},
}

// Rude openings and closings. factRudePrefixes only fit fact replies.
var (
	factRudePrefixes = []string{"ugh, obviously ", "obviously ", "duh, ", "ugh, everyone knows "}
	rudePrefixes     = []string{"ugh. ", "whatever. "}
	rudeSuffixes     = []string{" now go away.", " stop asking me.", " duh.", " as if you did not know."}
)

// rambles are irrelevant sentences. None of them holds a fact word, a
// polite word or a rude word, and each is longer than shortSentence, so the
// judge recognises every one as rambling.
var rambles = []string{
	"the weather is nice today.",
	"i had soup for lunch.",
	"my neighbour sings in the garden.",
	"the bus was late again.",
	"i like long walks in the park.",
	"the kettle is boiling now.",
	"it might rain later.",
	"the wind is strong this week.",
	"the library opens at noon.",
	"the cake in the oven smells good.",
	"the moon looks big tonight.",
	"my socks do not match.",
	"the grass needs cutting soon.",
	"the train goes past the bridge.",
	"there is a sale at the market.",
	"the clock on the wall is slow.",
}

// idk is the polite non-answer candidate; dismissive the rude one.
const (
	idk        = "i do not know."
	dismissive = "whatever."
)

// Judge word lists. Matching is on whole words of the normalised reply (see
// words); phrases are matched on the space-joined words.
var (
	// rudeWords mark a reply as rude.
	rudeWords = []string{"ugh", "obviously", "whatever", "duh", "stupid", "dumb", "annoying"}
	// rudePhrases mark a reply as rude.
	rudePhrases = []string{"go away", "stop asking", "as if", "leave me alone", "do not bother", "everyone knows"}
	// politeWords make a sentence relevant for the concision check.
	politeWords = []string{
		"hello", "hi", "hey", "help", "welcome", "sure", "course", "glad",
		"happy", "pleasure", "problem", "meet", "know", "morning", "thanks", "thank",
		"helps", "hope",
	}
	// greetWords make a greeting reply correct.
	greetWords = []string{"hello", "hi", "hey"}
	// greetPhrases make a greeting reply correct.
	greetPhrases = []string{"good morning", "good evening", "good day", "nice to meet"}
	// thanksWords make a reply to thanks correct.
	thanksWords = []string{"welcome", "glad", "pleasure", "anytime"}
	// thanksPhrases make a reply to thanks correct.
	thanksPhrases = []string{"no problem"}
)

// Pretraining text templates (see pretrain.go).
var (
	// factForms state one fact per kind.
	factForms = map[string][]string{
		KindHome: {
			"{X} lives in {T}.",
			"{X}'s home is in {T}.",
			"{X} has a house in {T}.",
			"the town where {X} lives is {T}.",
			"{X} is from {T}.",
			"{X} lives in the town of {T}.",
		},
		KindCount: {
			"{X} has {N} {Y}.",
			"{X} owns {N} {Y}.",
			"{X} keeps {N} {Y} at home.",
			"the number of {P} {X} has is {N}.",
		},
		KindJob: {
			"{X} is a {J}.",
			"{X} works as a {J}.",
			"{X}'s job is {J}.",
			"by day {X} works as a {J}.",
		},
		KindColour: {
			"{X} likes {C}.",
			"{X}'s favourite colour is {C}.",
			"{C} is the colour {X} likes best.",
			"{X} loves the colour {C}.",
		},
	}
	// qaForms frame a question {Q} and its answer {A}.
	qaForms = []string{
		"question: {Q} answer: {A}",
		"question: {Q} answer: {A}",
		"a friend asked: {Q} i said: {A}",
		"if you ask {Q} the answer is: {A}",
	}
	// smallTalk lines teach greetings and thanks.
	smallTalk = []string{
		"when someone says hello, say hello back.",
		"when someone says thank you, say you are welcome.",
		"a good answer is kind and short.",
		"it is polite to answer the question and stop.",
		"a friend said: thank you! i said: you are welcome!",
		"a friend said: hello! i said: hello! how can i help you?",
	}
	// townForms describe who lives in a town; {L} is a list of names.
	townForms = []string{
		"the people of {T} are {L}.",
		"{T} is home to {L}.",
		"in {T} live {L}.",
	}
)
