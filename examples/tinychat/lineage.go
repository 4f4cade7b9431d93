package main

import (
	"fmt"
	"strings"

	"github.com/tinychat-go/tinychat/model"
)

// runStages are the run folder's checkpoints in order, with the stage each must hold and the
// one it is trained from.
var runStages = []struct {
	name   string
	stage  model.Stage
	parent string
}{
	{"pretrain", model.StagePretrain, ""},
	{"sft", model.StageSFT, "pretrain"},
	{"reward", model.StageReward, "sft"},
	{"rlhf", model.StageRLHF, "sft"},
	{"rlvr", model.StageRLHF, "rlhf"},
}

// checkLineage checks every checkpoint already in the run folder before anything is skipped,
// loaded or reported: it must load, hold its own stage, and have been trained from the
// checkpoint of the stage before it (its Parent is that checkpoint's fingerprint, or the
// file's SHA-256 for runs made before fingerprints), and the RLHF policy from this reward
// model. A mismatch is an error that says which files to delete.
func (p *pipeline) checkLineage() error {
	type ids struct{ fingerprint, sha string }
	seen := map[string]ids{}
	remedy := func(i int) string {
		var files []string
		for _, s := range runStages[i:] {
			if exists(p.paths.stage(s.name)) {
				files = append(files, p.paths.stage(s.name))
			}
		}
		return "delete " + strings.Join(files, " and ") + " to train again from there"
	}
	for i, s := range runStages {
		path := p.paths.stage(s.name)
		if !exists(path) {
			continue
		}
		ck, err := model.LoadCheckpoint(path)
		if err != nil {
			return fmt.Errorf("%w; %s", err, remedy(i))
		}
		if ck.Stage != s.stage {
			return fmt.Errorf("%s holds a %q checkpoint, not the %s stage's; %s", path, ck.Stage, s.name, remedy(i))
		}
		if s.parent != "" {
			par, ok := seen[s.parent]
			if !ok {
				return fmt.Errorf("%s exists but %s, which it is trained from, does not; %s", path, p.paths.stage(s.parent), remedy(i))
			}
			if ck.Parent != par.fingerprint && ck.Parent != par.sha {
				return fmt.Errorf("%s was not trained from %s (its parent is %.12s…, that file is %.12s…); %s",
					path, p.paths.stage(s.parent), ck.Parent, par.fingerprint, remedy(i))
			}
		}
		if s.name == "rlhf" {
			rm, ok := seen["reward"]
			ref, legacy := ck.Extra["rlhf.reward"], ck.Extra["rlhf.reward_sha256"]
			ref, _, _ = strings.Cut(ref, ";") // "FINGERPRINT; skills: ..." with SkillReward gold
			if !ok || (ref != rm.fingerprint && legacy != rm.sha) {
				return fmt.Errorf("%s was not trained against the reward model %s; %s", path, p.paths.stage("reward"), remedy(i))
			}
		}
		fp, err := ck.Fingerprint()
		if err != nil {
			return err
		}
		sha, err := model.FileSHA256(path)
		if err != nil {
			return err
		}
		seen[s.name] = ids{fp, sha}
	}
	return nil
}
