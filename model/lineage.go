package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
)

// Fingerprint identifies a checkpoint by its content: the SHA-256 (hex) of its stage, model
// config, tokenizer and weights (not its metrics, step or optimizer state). A stage records its
// parent's fingerprint as Parent, so the lineage of a model can be checked whether the parent
// came from a file or from memory.
func (c *Checkpoint) Fingerprint() (string, error) {
	h := sha256.New()
	cfg, err := json.Marshal(c.Model.Config)
	if err != nil {
		return "", err
	}
	tok, err := c.Tokenizer.MarshalJSON()
	if err != nil {
		return "", err
	}
	for _, part := range [][]byte{[]byte(c.Stage), cfg, tok} {
		binary.Write(h, binary.LittleEndian, uint64(len(part)))
		h.Write(part)
	}
	buf := make([]byte, 0, 1<<16)
	for _, p := range c.Model.Params {
		binary.Write(h, binary.LittleEndian, uint64(len(p.Name)))
		h.Write([]byte(p.Name))
		for _, d := range p.Shape {
			binary.Write(h, binary.LittleEndian, int64(d))
		}
		for i, v := range p.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) || i == len(p.Data)-1 {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
