package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinychat-go/tinychat/model"
)

// sft-direct trained beside the main line gives every checkpoint the bits it has when the
// stages run one after another (-serial), and the same report: the kernels' results do not
// depend on how their work is shared between goroutines, and the stage beside shares no
// state with the others.
func TestBesideMatchesSerial(t *testing.T) {
	pl := skillsTinyPlan()
	pl.RLVRIterations, pl.RLVRPrompts, pl.RLVRGroup, pl.RLVRFactPrompts = 2, 4, 2, 4
	run := func(serial bool) (string, *Report) {
		dir := t.TempDir()
		p := &pipeline{plan: pl, paths: paths{dir: dir}, log: io.Discard, serial: serial}
		r, err := p.run(context.Background())
		require.NoError(t, err)
		_, ok := p.seconds["sft-direct"]
		require.True(t, ok, "sft-direct's time is recorded")
		return dir, r
	}
	serialDir, serial := run(true)
	besideDir, beside := run(false)
	for _, stage := range []string{"pretrain", "sft", "sft-direct", "reward", "rlhf", "rlvr"} {
		want, err := model.LoadCheckpoint(filepath.Join(serialDir, stage+".safetensors"))
		require.NoError(t, err)
		got, err := model.LoadCheckpoint(filepath.Join(besideDir, stage+".safetensors"))
		require.NoError(t, err)
		wantID, err := want.Fingerprint()
		require.NoError(t, err)
		gotID, err := got.Fingerprint()
		require.NoError(t, err)
		require.Equal(t, wantID, gotID, "%s's weights", stage)
	}
	require.Equal(t, serial.RLHF["gold_score"], beside.RLHF["gold_score"])
	require.Equal(t, serial.Skills.Tables, beside.Skills.Tables)
	require.Equal(t, serial.Skills.SFTDirect["val_loss"], beside.Skills.SFTDirect["val_loss"])
}

// When the stage beside fails, the main line stops and the run reports that stage's error,
// not the cancellation it caused; the pretrained model stays as it was.
func TestBesideFailureStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	// A folder where sft-direct's checkpoint goes: the stage cannot read or write it.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sft-direct.safetensors", "x"), 0o755))
	p := &pipeline{plan: skillsTinyPlan(), paths: paths{dir: dir}, log: io.Discard}
	_, err := p.run(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "sft-direct")
	require.NotContains(t, err.Error(), "context canceled")
	_, err = model.LoadStage(filepath.Join(dir, "pretrain.safetensors"), model.StagePretrain)
	require.NoError(t, err)
	require.NoFileExists(t, filepath.Join(dir, "report.json"))
	require.NoFileExists(t, filepath.Join(dir, "rlvr.safetensors"), "the main line stopped")
}
