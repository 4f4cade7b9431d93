package tools

import (
	"context"
	"errors"
	"strings"

	"github.com/tinychat-go/tinychat/retrieval"
)

// DefaultSearchK is the number of passages Search returns when its K is zero.
const DefaultSearchK = 3

// Search is the tool "search": it looks its argument up with a retriever and returns the
// texts of the best passages, best first, one per line ("no passages found" when none
// matches).
type Search struct {
	Retriever retrieval.Retriever
	// K is the number of passages returned; 0 means DefaultSearchK.
	K int
}

var _ Tool = Search{}

// Name returns "search".
func (Search) Name() string { return "search" }

// Description says how to call it.
func (Search) Description() string {
	return "search QUERY: the passages that best match QUERY, e.g. search where does anna live"
}

// Run searches for query.
func (s Search) Run(ctx context.Context, query string) (string, error) {
	if s.Retriever == nil {
		return "", errors.New("no passages to search")
	}
	if strings.TrimSpace(query) == "" {
		return "", errors.New("empty query")
	}
	k := s.K
	if k <= 0 {
		k = DefaultSearchK
	}
	hits, err := s.Retriever.Search(ctx, query, k)
	if err != nil {
		return "", err
	}
	if len(hits) == 0 {
		return "no passages found", nil
	}
	texts := make([]string, len(hits))
	for i, h := range hits {
		texts[i] = h.Passage.Text
	}
	return strings.Join(texts, "\n"), nil
}
