package termprogress

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/train"
)

// Two stages at once share the first one's bar, the other's count in its description; when
// the first ends, the other's next update takes a bar of its own.
func TestBarWithStagesBeside(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Bar)
	r.Update(train.Progress{Name: "sft", Step: 1, Steps: 4})
	r.Update(train.Progress{Name: "sft-direct", Step: 1, Steps: 10})
	r.Update(train.Progress{Name: "sft-direct", Step: 2, Steps: 10})
	require.Equal(t, "sft", r.name)
	require.Equal(t, " · sft-direct 2/10", r.besideText())
	r.Update(train.Progress{Name: "reward", Step: 3, Steps: 30})
	require.Equal(t, " · reward 3/30 · sft-direct 2/10", r.besideText(), "in name order")
	r.Update(train.Progress{Name: "reward", Step: 30, Steps: 30})
	require.Equal(t, " · sft-direct 2/10", r.besideText(), "a stage beside that ends leaves the description")
	r.Update(train.Progress{Name: "sft", Step: 4, Steps: 4})
	require.Nil(t, r.bar, "the bar's stage ended")
	r.Update(train.Progress{Name: "sft-direct", Step: 3, Steps: 10})
	require.Equal(t, "sft-direct", r.name)
	require.Empty(t, r.besideText(), "the stage with the bar is not listed beside it")
	require.True(t, strings.Contains(out.String(), "sft"), "the bar was drawn: %q", out.String())
}

// Lines mode prints each stage's logged lines under its own name, interleaved as they come.
func TestLinesWithStagesBeside(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Lines)
	r.Update(train.Progress{Name: "sft", Step: 1, Steps: 4, Metrics: map[string]float64{"loss": 1}})
	r.Update(train.Progress{Name: "sft-direct", Step: 2, Steps: 10, Metrics: map[string]float64{"loss": 2}})
	r.Update(train.Progress{Name: "sft", Step: 2, Steps: 4}) // no metrics line: nothing printed
	require.Equal(t, "sft 1/4 step=0 loss=1\nsft-direct 2/10 step=0 loss=2\n", out.String())
}
