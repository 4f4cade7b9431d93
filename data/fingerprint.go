package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
)

// TokensFingerprint is the SHA-256 (hex) of token streams, a stage's record of which data it
// trained on (compared when a run resumes).
func TokensFingerprint(streams ...[]int32) string {
	h := sha256.New()
	buf := make([]byte, 0, 1<<14)
	for _, s := range streams {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s)))
		for _, t := range s {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
			if len(buf) >= 1<<14-8 {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// Fingerprint is the SHA-256 (hex) of any JSON-encodable data (conversations, rankings), for
// the same purpose as TokensFingerprint.
func Fingerprint(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
