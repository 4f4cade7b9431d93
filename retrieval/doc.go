// Package retrieval finds the passages of a document collection that answer a question: the R
// of retrieval-augmented generation.
//
// [Split] cuts documents into passages (paragraphs, packed or cut at sentence and then word
// boundaries to a maximum length). Two retrievers implement [Retriever] over the same
// passages: [BM25], the lexical baseline, and [Vectors], which embeds passages and questions
// with an [Embedder] and looks the question's vector up in an [Index]. [FlatIndex] is an
// in-memory exact cosine top-k index; a real vector database fits behind the same small
// interface. Two embedders: [Encoder], a dual encoder over hashed word and character
// n-grams trained contrastively on question/passage pairs ([TrainEncoder]), and
// [PooledEmbedder], the cheap baseline: the mean of a model's final hidden states over the
// text's tokens. [Recall] measures a retriever on questions whose relevant passages are
// known.
//
// Results are deterministic: ties in score are broken by passage order.
package retrieval
