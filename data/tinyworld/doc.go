// Package tinyworld generates a small synthetic world and every dataset the
// tinychat recipe needs to train a tiny ChatGPT on it (pretraining text, SFT
// demonstrations, RL and preference prompts, held-out evaluation prompts),
// plus a gold judge that scores replies. Everything is deterministic in
// [Config.Seed].
//
// # The world
//
// A few dozen people with distinct first names; each lives in one town, has
// a small number (one to nine, always written as a word) of one kind of
// object, has a job and a favourite colour. There is no arithmetic in these
// datasets (the new skills below add some).
// The question kinds are [KindHome], [KindCount], [KindJob], [KindColour]
// (fact questions about a person) and [KindGreet], [KindThanks] (small talk),
// each with six phrasings.
//
// # Held-out evaluation
//
// Every person appears in every stage. Instead of holding people out, the
// world holds out one fact kind per person (the held-out combination, see
// [World.HeldKind]) and one phrasing per question kind (see
// [World.HeldPhrasing]) from all chat data: [World.SFTConversations],
// [World.RLPrompts], [World.Preferences] and the prompts one passes to
// [World.Candidates] never contain them. [World.EvalPrompts] is made only of
// them. The facts themselves, and the question forms, are taught by
// [World.PretrainText], which states every fact in many forms and asks and
// answers the questions in every phrasing (unless [Config.StrictPretrain]).
//
// # Imperfect demonstrations
//
// SFT replies are drawn imperfect at configurable rates, independently: a
// wrong fact ([Config.WrongRate], default 12%), rude ([Config.RudeRate],
// 25%), rambling ([Config.RambleRate], 25%). [World.Candidates] gives
// templated replies of every quality for preference data, including
// wrong-but-polite ones, so that a reward model can learn correctness from
// comparisons. [World.Judge] scores replies; see its documentation for the
// rubric. The trainer is expected to mix some pretraining text into SFT
// batches.
//
// The text is lower case except the proper names, with a small alphabet
// ([World.Alphabet]); good replies are at most 40 characters, flawed ones
// about 110.
//
// # The new skills
//
// A second set of datasets, behind their own functions so that the ones
// above stay exactly as they were, asks for more than recitation (see
// [Skills]). Everyone also has a multi-digit number of stamps ("Anna has
// 347 stamps.", [World.Stamps]) and every town a ticket price ("a ticket to
// Oakton costs 28 coins.", [World.TicketPrice]), stated in
// [World.SkillPretrainText] (written in digits, so the texts never mix the
// two ways of counting). A news store written after the pretraining text
// ([World.News]) moves people, changes jobs and brings new people whom no
// other text names; [World.Current] gives the facts after it. The skills:
// closed-book questions about the new facts, calculations (a calculator
// call in the demonstration), questions about people who do not exist (a
// refusal that does not copy the name), questions whose current answer is
// in the news (a passage in front of the question), search then calculate,
// multi-hop questions (answered directly, or step by step after
// [StepTrigger]), and reading: questions about invented people answered
// from a passage, also in the pretraining text, because a model that only
// memorised facts ignores its context.
//
// [World.SkillDemos] gives SFT demonstrations as a [Demo]: a [Prompt] (with
// its passages, expression, stale answer and reasoning) and the assistant
// turn as [Step]s, text or a tool call with its result in the tools
// package's form ("calc 347+215" → "562", "search Otto stamps" → a news
// passage); [Demo.Chat] renders it in package data's chat format (context
// turn, tool-call and tool-result messages). [World.SkillRLPrompts] and [World.SkillEvalPrompts] give
// prompts; the evaluation holds out person pairs (a quarter, see
// [World.IsHeldPair]), people (by their held-out kind: stamps for the
// count, the colour-of question for the colour, the ticket-home question
// for the home), half of the news items, the names of nobody (see
// [UnknownNames]) and one phrasing per new kind. [World.Judge] scores every
// skill (arithmetic exactness, refusal and hallucination, stale answers,
// the final answer of a step-by-step reply), and [World.SkillPreferences]
// ranks templated turns of every quality for the reward model.
// [World.SkillsAlphabet] covers the new texts' characters.
package tinyworld
