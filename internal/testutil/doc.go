// Package testutil builds the small models and datasets that the stage tests share: a tiny
// character-level GPT pretrained in a few seconds, and dialogues with a learnable rule (the
// assistant repeats the word it is asked to repeat).
package testutil
