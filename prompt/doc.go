// Package prompt builds few-shot and chain-of-thought prompts and parses
// the replies they get.
//
// A few-shot prompt shows solved [Example]s before the question, and the
// model follows their form: [Text] writes them in the plain text form of a
// pretraining corpus for a base model ("question: ... answer: ..." lines,
// see [TextFormat]), [Chat] as prior user and assistant turns for a chat
// model. With [Options.Reasoning] the examples show their reasoning before
// the conclusion (chain of thought); with [Options.Trigger] the question
// ends with the zero-shot trigger [StepTrigger] ("let's think step by
// step."). Examples are chosen at random in a seed ([Random]) or as the
// nearest to the question by an [Embedder] ([Nearest]); [HashEmbedder] is a
// bag-of-words embedder to use until a trained one plugs in.
//
// [ReadExamples] reads examples from a JSONL file (a few-shot file for a
// chat program).
//
// [Parse] separates a reply's reasoning from its final answer (the part
// from the last "so" that opens a sentence or follows a comma), and
// [CutText] cuts a base model's continuation where the examples' form says
// the answer ends.
//
// Everything is deterministic: the same inputs and seed give the same
// prompt.
package prompt
