package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/tinychat-go/tinychat/chat"
	"github.com/tinychat-go/tinychat/data"
	"github.com/tinychat-go/tinychat/data/tinyworld"
	"github.com/tinychat-go/tinychat/data/tokenizer"
	"github.com/tinychat-go/tinychat/internal/tinyeval"
	"github.com/tinychat-go/tinychat/model"
	"github.com/tinychat-go/tinychat/pretrain"
	"github.com/tinychat-go/tinychat/reward"
	"github.com/tinychat-go/tinychat/rlhf"
	"github.com/tinychat-go/tinychat/sft"
	"github.com/tinychat-go/tinychat/train"
)

// plan holds every size of a pipeline run.
type plan struct {
	Seed     uint64
	Model    model.Config
	BPEVocab int
	// BPESplitDigits keeps every digit its own token (tokenizer.BPEConfig.SplitDigits), so
	// that a number copied from a tool's result or a passage has the same tokens in the reply.
	// Off by default: with the 512-token vocabulary it did not help the calculations
	// (docs/tinyworld-skills.md, session 12).
	BPESplitDigits bool
	PretrainSteps  int
	PretrainBatch  int
	SFTConvs       int
	SFTSteps       int
	SFTBlock       int
	RMPrompts      int
	RMSamples      int
	RMSteps        int
	PPOIterations  int
	PPOPrompts     int
	PPOLR          float64
	PPOKL          float64
	// PPOPretrainCoef is PPO-ptx's γ: the weight of the next-token loss on the pretraining
	// text in each policy update (0: plain PPO).
	PPOPretrainCoef float64
	// PPOClip is PPO's clip range ε and PPOEpochs the passes over each rollout batch (0: the
	// rlhf package's defaults, 0.2 and 2).
	PPOClip   float64
	PPOEpochs int
	// PPOGroupAdvantages whitens PPO's advantages separately for the original prompts (the
	// reward model's scores) and the skills' (the judge's, with SkillRL), rather than over
	// the whole batch (rlhf.PPOConfig.AdvantageGroups). Off by default: it lowered the skills
	// (docs/tinychat/ppo-on-skills.md, session 12).
	PPOGroupAdvantages bool
	// CurveInterval is how often (in PPO iterations) the policy's gold score and the reward
	// model's score (the proxy) are measured on CurvePrompts fixed held-out prompts, for the
	// over-optimisation curves and alarms (0: never).
	CurveInterval, CurvePrompts int
	MaxReplyTokens              int
	// EvalPrompts is the number of held-out evaluation prompts and EvalSamples the replies
	// sampled (T=1) per prompt for the sampled scores and the head-to-heads.
	EvalPrompts int
	EvalSamples int
	// EvalSeed seeds the evaluation's sampling (0: Seed+1000). Rerunning a finished run with
	// another EvalSeed re-evaluates its checkpoints without retraining them.
	EvalSeed uint64
	// Skills trains and evaluates the tiny world's new skills too (issues #15 and #16, see
	// skills.go): their pretraining text and SFT demonstrations, a direct-only SFT ablation,
	// and one report table per skill. On in the default plan, off in the quick one; it needs a
	// model block of at least 96.
	Skills bool
	// SkillPretrainBytes is the size of the skills' pretraining text, SkillDemos the SFT
	// demonstrations per skill and SkillEvalPrompts the held-out prompts per skill table row
	// (0: 200 KB, 600 and 300).
	SkillPretrainBytes, SkillDemos, SkillEvalPrompts int
	// SkillDrills is the number of reasoning drills in SFT's mix (tinyworld.ReasoningDrills:
	// same-town and more-stamps questions about invented people whose facts are in the
	// context turn, half of them step by step; 0, the default: none). An experiment for #16,
	// off by default: with 8,000 of them (session 11, its 384-token BPE) the SFT model
	// concluded unseen drills' stamps right 59% of the time and their towns 39%, and the
	// world's multi-hop questions with the trigger fell from 0.74 to 0.63
	// (docs/tinyworld-skills.md).
	SkillDrills int
	// SkillRL adds the skills' prompts to PPO's (plan.skillRLPrompts of each skill), with
	// replies as long as the skill tables allow (64 tokens); SkillReward says what scores
	// their replies. On in the default plan, with the judge's rewards: without them PPO on
	// the original prompts alone lowered every skill (facts 1.00 → 0.68, news with the right
	// passage 0.82 → 0.28, docs/tinychat/ppo-on-skills.md), and with the reward model's the
	// policy learned to answer questions about unknown people with a fact about someone
	// else, which no ranking showed. (With Skills the tools run inside PPO's rollouts either
	// way; the original prompts rarely call them.)
	SkillRL bool
	// SkillReward is where PPO's rewards for the skills' prompts come from: "rm" (or "") the
	// reward model, as for the other prompts; "gold" (the default plan's) the world's judge,
	// which knows each answer (RL from verifiable rewards; see skillreward.go).
	SkillReward string
	// SkillRLPrompts is the number of each skill's prompts among PPO's with SkillRL (0:
	// RMPrompts/8); PPO draws its batches from them and the RMPrompts·2 original prompts
	// alike, so this sets the skills' share of the batches.
	SkillRLPrompts int
	// RLVRIterations adds the RLVR stage after PPO (with Skills; 0: none): that many
	// iterations of a group method (RLVRMethod) from the PPO policy on the skills' prompts,
	// each reply scored by the world's judge (rlvr.go). RLVRPrompts prompts per iteration with
	// RLVRGroup replies each (0: 8 and 8), learning rate RLVRLR and KL coefficient RLVRKL (0:
	// the method's defaults, rlhf.DefaultGRPOConfig's 1e-5 and β 0.04 in the loss or
	// rlhf.DefaultRLOOConfig's 1e-5 and β 0.05 in the reward), RLVRPretrainCoef the weight of
	// the pretraining mix (0: none). The default plan: 270 iterations of RLOO at 1e-5.
	RLVRIterations, RLVRPrompts, RLVRGroup int
	RLVRLR, RLVRKL, RLVRPretrainCoef       float64
	// RLVRFactPrompts adds that many of the original prompts (the fact questions and small
	// talk, tinyworld.World.RLPrompts) to RLVR's, scored by the reward model as in PPO; each
	// group's baseline is its own prompt's, so the two kinds of reward need no common scale.
	RLVRFactPrompts int
	// RLVRMethod is the group method: "grpo" (or "") or "rloo" (the default plan's), whose
	// advantages keep the rewards' units (rlhf.GroupAdvantages): a wrong answer's 3 points
	// (60 of the judge's 100, divided by 20) outweigh a wordy reply's quarter point, where
	// GRPO's division by the group's spread makes either difference the same size.
	RLVRMethod string
	// RLVRInventedSearchCalc adds that many search-then-calculate prompts about invented
	// people to RLVR's (tinyworld.World.InventedSearchCalcRLPrompts), their passages added to
	// the index RLVR's search runs over (never to the evaluation's). The skill's own RL
	// prompts ask only about the news store's three training people, whom the SFT model
	// gets right every time: a group of equal rewards teaches nothing. 1,500 in the default
	// plan (500 until session 19: at five RLVR seeds the held-out search-then-calculate went
	// from −6.7, −7.0, −2.7, −0.5 and −1.7 points of sampled gold against SFT to +4.5, +3.9,
	// +5.0, +1.2 and +1.7; docs/tinychat/ppo-on-skills.md, "Session 19").
	RLVRInventedSearchCalc int
	// RLVRInventedNews adds that many news questions about invented new people, each with its
	// passage in the context turn (tinyworld.World.InventedNewsRLPrompts), to RLVR's prompts:
	// the skill's own RL prompts are about the news store's training people, whom the policy
	// never gets wrong, and the held-out people's are where PPO and RLVR lowered the news with
	// the right passage (docs/tinychat/ppo-on-skills.md, session 16).
	RLVRInventedNews int
	// RLVRSeed seeds RLVR's prompt draws and sampling (0: Seed+3): another RLVR seed on the same
	// PPO checkpoint shows how much of a skill table is the luck of one RL run.
	RLVRSeed uint64
	// RLVRRecompute recomputes each block's activations in the backward pass of RLVR's
	// policy updates (train.Config.Recompute) instead of keeping them: the same bits, less
	// memory. On in the default plan: RLVR's training graph of 16 rows of 136 tokens keeps
	// 119 MiB of activations and recomputes them in 43 (40 iterations: the stage's peak
	// 313–316 MiB → 192–204, no slower: its time goes to sampling). PPO keeps them: its
	// updates (two epochs, and the value model's) took 30% longer recomputed, and its peak
	// is lower (about 240 MiB).
	RLVRRecompute bool
	// Unpacked gives every conversation, reply and rollout of SFT, the sft-direct ablation,
	// the reward model, PPO and RLVR a row of its own, padded to the rows' length, as before
	// session 18. By default each step's (each minibatch's) are packed into as few rows as
	// they fit, each attending only to itself (sft.Config.Unpacked, reward.Config.Unpacked,
	// rlhf.PPOConfig.Unpacked, rlhf.GroupConfig.Unpacked): the same samples and losses up to
	// float32 rounding, on 8.8 rows of SFT's 16 on average.
	Unpacked bool
}

func (p plan) rlvrPrompts() int {
	if p.RLVRPrompts > 0 {
		return p.RLVRPrompts
	}
	return 8
}

func (p plan) rlvrGroup() int {
	if p.RLVRGroup > 0 {
		return p.RLVRGroup
	}
	return 8
}

// defaultPlan is the full run, the world's skills included (issues #15 and #16; see
// skills.go and docs/tinychat); quickPlan a scaled-down one without them, for tests and a
// first look (about a minute). The model's block is 192 tokens so that the base model can be
// shown four few-shot examples; every chat fits 96 (sftBlock), so SFT and the reward model use
// rows of 96, PPO rows as long as its longest prompt and reply need (rlhf.RolloutBlock: 136
// with the skills' 64-token replies). Pretraining sees 16 windows of 96 tokens' worth per step (8 of 192).
// After PPO, RLVR (rlvr.go): RLOO on the skills' prompts (and 1,500 search-then-calculate ones
// and 500 news questions about invented people) with the judge's rewards and on 1,000 of the
// original prompts with the reward model's (docs/tinychat/ppo-on-skills.md, sessions 13, 14
// and 16). PPO runs 60 iterations
// and RLVR 270: with 200 and 150 (session 13's plan), PPO's longer run cost the skills more
// than RLVR won back.
func defaultPlan(seed uint64) plan {
	return plan{
		Seed:          seed,
		Model:         model.Config{Layers: 4, Heads: 4, Width: 128, BlockSize: 192},
		BPEVocab:      512,
		PretrainSteps: 3000, PretrainBatch: 8,
		SFTConvs: 6000, SFTSteps: 3000, SFTBlock: 48,
		RMPrompts: 4000, RMSamples: 4, RMSteps: 4000,
		PPOIterations: 60, PPOPrompts: 32, PPOLR: 2e-5, PPOKL: 0.02, PPOPretrainCoef: 4,
		CurveInterval: 20, CurvePrompts: 64,
		MaxReplyTokens: 32,
		EvalPrompts:    500, EvalSamples: 4,
		Skills:             true,
		SkillPretrainBytes: 800_000, SkillDemos: 1000,
		SkillRL: true, SkillReward: skillRewardGold,
		RLVRIterations: 270, RLVRLR: 1e-5, RLVRFactPrompts: 1000, RLVRMethod: string(rlhf.RLOO),
		RLVRInventedSearchCalc: 1500, RLVRInventedNews: 500, RLVRRecompute: true,
	}
}

func quickPlan(seed uint64) plan {
	p := defaultPlan(seed)
	p.Model = model.Config{Layers: 2, Heads: 2, Width: 64, BlockSize: 64}
	p.Skills, p.SkillPretrainBytes, p.SkillDemos, p.SkillDrills = false, 0, 0, 0 // the skills need a block of 96
	p.SkillRL, p.SkillReward = false, ""
	p.RLVRIterations = 0 // RLVR's prompts are the skills'
	p.BPEVocab = 320
	p.PretrainSteps, p.PretrainBatch = 300, 16
	p.SFTConvs, p.SFTSteps = 2000, 250
	p.RMPrompts, p.RMSamples, p.RMSteps = 300, 2, 200
	p.PPOIterations, p.PPOPrompts, p.PPOLR = 12, 16, 1e-4
	p.PPOKL, p.PPOPretrainCoef = 0.05, 0 // a few large steps: plain PPO
	p.CurveInterval, p.CurvePrompts = 4, 16
	p.EvalPrompts, p.EvalSamples = 200, 2
	return p
}

// override sets the fields named in the JSON object js (unknown fields are an error) and
// checks that the sizes stay positive.
func (p *plan) override(js string) error {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return fmt.Errorf("%w (fields: see report.json's \"plan\")", err)
	}
	for name, v := range map[string]float64{
		"BPEVocab": float64(p.BPEVocab), "PretrainSteps": float64(p.PretrainSteps), "PretrainBatch": float64(p.PretrainBatch),
		"SFTConvs": float64(p.SFTConvs), "SFTSteps": float64(p.SFTSteps), "SFTBlock": float64(p.SFTBlock),
		"RMPrompts": float64(p.RMPrompts), "RMSamples": float64(p.RMSamples), "RMSteps": float64(p.RMSteps),
		"PPOIterations": float64(p.PPOIterations), "PPOPrompts": float64(p.PPOPrompts), "PPOLR": p.PPOLR,
		"PPOKL": p.PPOKL, "MaxReplyTokens": float64(p.MaxReplyTokens), "EvalPrompts": float64(p.EvalPrompts),
		"EvalSamples": float64(p.EvalSamples),
	} {
		if v <= 0 {
			return fmt.Errorf("%s must be positive, got %g", name, v)
		}
	}
	if p.MaxReplyTokens >= p.Model.BlockSize {
		return fmt.Errorf("MaxReplyTokens is %d, want below the model's block size (%d), which bounds every reply", p.MaxReplyTokens, p.Model.BlockSize)
	}
	if p.SFTBlock > p.Model.BlockSize {
		return fmt.Errorf("SFTBlock is %d, want at most the model's block size (%d)", p.SFTBlock, p.Model.BlockSize)
	}
	if err := p.checkSkills(); err != nil {
		return err
	}
	if m := rlhf.GroupMethod(p.RLVRMethod); m != "" && m != rlhf.GRPO && m != rlhf.RLOO {
		return fmt.Errorf("RLVRMethod is %q, want %q or %q", p.RLVRMethod, rlhf.GRPO, rlhf.RLOO)
	}
	if p.SkillReward != "" && p.SkillReward != skillRewardModel && p.SkillReward != skillRewardGold {
		return fmt.Errorf("SkillReward is %q, want %q (the reward model) or %q (the judge)", p.SkillReward, skillRewardModel, skillRewardGold)
	}
	for name, v := range map[string]float64{
		"PPOPretrainCoef": p.PPOPretrainCoef, "PPOClip": p.PPOClip, "PPOEpochs": float64(p.PPOEpochs), "SkillRLPrompts": float64(p.SkillRLPrompts), "SkillDrills": float64(p.SkillDrills),
		"RLVRIterations": float64(p.RLVRIterations), "RLVRPrompts": float64(p.RLVRPrompts), "RLVRGroup": float64(p.RLVRGroup), "RLVRFactPrompts": float64(p.RLVRFactPrompts),
		"RLVRLR": p.RLVRLR, "RLVRKL": p.RLVRKL, "RLVRPretrainCoef": p.RLVRPretrainCoef, "RLVRInventedSearchCalc": float64(p.RLVRInventedSearchCalc), "RLVRInventedNews": float64(p.RLVRInventedNews),
		"CurveInterval": float64(p.CurveInterval), "CurvePrompts": float64(p.CurvePrompts),
	} {
		if v < 0 {
			return fmt.Errorf("%s must not be negative, got %g", name, v)
		}
	}
	return nil
}

// paths of one run's files.
type paths struct{ dir string }

func (p paths) stage(name string) string { return filepath.Join(p.dir, name+".safetensors") }

// times is the file recording each stage's wall time when it ran, so that a rerun which skips
// the stage reports it (a checkpoint's own "seconds" leaves out work around the training loop,
// such as the reward stage's sampling and judging).
func (p paths) times() string { return filepath.Join(p.dir, "stage_seconds.json") }

// loadTimes reads the stage times recorded by earlier runs; a missing or unreadable file
// gives none.
func loadTimes(path string) map[string]float64 {
	t := map[string]float64{}
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &t) != nil {
		return map[string]float64{}
	}
	return t
}

// saveTimes writes the stage times atomically (a temporary file renamed over the old one).
func saveTimes(path string, t map[string]float64) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".stage_seconds-*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// pipeline runs (or resumes) every stage and evaluates the result.
type pipeline struct {
	plan     plan
	paths    paths
	world    *tinyworld.World
	log      io.Writer
	progress func(train.Progress) // nil: none
	seconds  map[string]float64
	metrics  map[string]map[string]float64
	// recorded holds the wall times of stages that ran in this or an earlier run (paths.times).
	recorded map[string]float64
	// peakMiB is each stage's peak resident memory in this process (memWatch's samples),
	// "eval" the evaluation's, "run" the process's whole peak (peakRSS); a skipped stage's is
	// what loading and checking its checkpoint took.
	peakMiB map[string]float64
	mem     *memWatch // nil where memory cannot be read
	// serial runs the direct-answer SFT ablation after the other stages instead of beside SFT
	// and the reward model (startBeside), so that each stage's time and peak memory are its
	// own; the results are the same bits either way.
	serial bool
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// complete reports whether path holds a finished checkpoint (an interrupted stage leaves one
// with optimizer state, which the stage resumes). It reads only the file's header.
func complete(path string) bool {
	if !exists(path) {
		return false
	}
	info, err := model.ReadCheckpointInfo(path)
	return err == nil && !info.HasOptimizer
}

// beginPeak starts name's window of resident memory (see notePeak).
func (p *pipeline) beginPeak(name string) {
	if p.mem != nil {
		p.mem.begin(name)
	}
}

// notePeak records the peak resident memory since beginPeak(name) as name's, and the
// process's peak so far as "run".
func (p *pipeline) notePeak(name string) {
	if p.mem == nil || p.peakMiB == nil {
		return
	}
	p.peakMiB[name] = p.mem.end(name)
	// The kernel keeps its resident-page counts per thread and adds them up lazily, so a
	// sample can run a few pages ahead of the high-water mark read just after it.
	run := max(p.peakMiB["run"], p.peakMiB[name])
	if mib, ok := peakRSS(); ok {
		run = max(run, mib)
	}
	p.peakMiB["run"] = run
}

func (p *pipeline) logf(format string, args ...any) {
	fmt.Fprintf(p.log, format+"\n", args...)
}

// timed runs a stage, recording its wall time in p.seconds and the times file (a skipped stage
// sets p.seconds itself, see stageSeconds).
func (p *pipeline) timed(name string, f func() error) error {
	t0 := time.Now()
	p.beginPeak(name)
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The stage's graphs, engines and optimizer are garbage now: collect them before the next
	// stage allocates its own, so that the run's peak memory is its largest stage's, not two
	// stages' together (one garbage collection).
	debug.FreeOSMemory()
	p.notePeak(name)
	if _, ok := p.seconds[name]; !ok {
		p.seconds[name] = time.Since(t0).Seconds()
		p.recorded[name] = p.seconds[name]
		if err := saveTimes(p.paths.times(), p.recorded); err != nil {
			return fmt.Errorf("%s: recording its time: %w", name, err)
		}
	}
	return nil
}

// stageSeconds is the wall time of a skipped stage: as recorded when it ran, or else the
// training time stored in its checkpoint's metrics.
func (p *pipeline) stageSeconds(name string, metrics map[string]float64) float64 {
	if s, ok := p.recorded[name]; ok {
		return s
	}
	return metrics["seconds"]
}

func (p *pipeline) run(ctx context.Context) (*Report, error) {
	if err := os.MkdirAll(p.paths.dir, 0o755); err != nil {
		return nil, err
	}
	p.world = newWorld(p.plan.Seed)
	p.seconds = map[string]float64{}
	p.metrics = map[string]map[string]float64{}
	p.recorded = loadTimes(p.paths.times())
	p.peakMiB = map[string]float64{}
	if p.mem = startMemWatch(); p.mem != nil {
		defer p.mem.close()
	}
	if err := p.checkLineage(); err != nil {
		return nil, err
	}
	var tok tokenizer.Tokenizer
	if err := p.timed("pretrain", func() error {
		var err error
		tok, err = p.pretrain(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	// The main line of stages stops when the stage beside it fails, and the other way round.
	mainCtx, stopMain := context.WithCancelCause(ctx)
	defer stopMain(nil)
	beside, err := p.startBeside(mainCtx, stopMain)
	if err != nil {
		return nil, err
	}
	err = p.mainLine(mainCtx, tok, func() {
		if beside != nil {
			<-beside.done
			debug.FreeOSMemory() // its graphs are garbage: collect them before PPO's come
		}
	})
	if beside != nil {
		if err != nil {
			beside.stop() // it leaves a checkpoint to resume from
		}
		if berr := p.joinBeside(beside); berr != nil && (err == nil || errors.Is(context.Cause(mainCtx), berr)) {
			err = berr // the first failure, not the cancellation it caused
		}
	}
	if err != nil {
		return nil, err
	}
	if beside == nil && p.plan.Skills {
		if err := p.timed("sft-direct", func() error { return p.sftDirect(ctx) }); err != nil {
			return nil, err
		}
	}
	return p.evaluate(ctx)
}

// mainLine runs SFT, the reward model, PPO and RLVR, each from the one before. Before PPO, the
// stage with the largest memory of its own (255 MiB in the default run), it waits for the
// stage beside it (waitBeside), so that PPO's memory never adds to another stage's.
func (p *pipeline) mainLine(ctx context.Context, tok tokenizer.Tokenizer, waitBeside func()) error {
	steps := []struct {
		name string
		f    func() error
	}{
		{"sft", func() error { return p.sft(ctx, tok) }},
		{"reward", func() error { return p.reward(ctx) }},
		{"rlhf", func() error { return p.ppo(ctx, tok) }},
	}
	if p.policyStage() == "rlvr" {
		steps = append(steps, struct {
			name string
			f    func() error
		}{"rlvr", func() error { return p.rlvr(ctx, tok) }})
	}
	for _, s := range steps {
		if s.name == "rlhf" {
			waitBeside()
		}
		if err := p.timed(s.name, s.f); err != nil {
			return err
		}
	}
	return nil
}

// besideStage is a stage training on its own goroutine beside the main line: the
// direct-answer SFT ablation (sft-direct), which needs only the pretrained model. A training
// step split over the 2 cores of a laptop-sized machine keeps them about 90% busy (the parts
// between its parallel products and kernels run on one), and SFT's small packed steps less, so
// while the ablation trains, every operation runs on one goroutine (model.SetThreads(1)) and the
// two stages keep one core each: SFT, the reward model and the ablation took 250 s this way and
// 295 s one after another on both cores (session 19, runs/spin19 and runs/serial19, -serial). Every kernel gives the same bits however its work is shared out, so the results are
// those of the stages run one after another (TestBesideMatchesSerial).
type besideStage struct {
	name    string
	stop    context.CancelFunc
	done    chan struct{}
	err     error
	seconds float64
	metrics map[string]float64
}

// startBeside starts sft-direct beside the main line when the plan has the skills, the stage
// has not run yet and p.serial is off; nil otherwise (a finished sft-direct is checked against
// SFT's parent after the main line). A failure of the stage cancels ctx with it (stopMain).
func (p *pipeline) startBeside(ctx context.Context, stopMain context.CancelCauseFunc) (*besideStage, error) {
	const name = "sft-direct"
	if p.serial || !p.plan.Skills || complete(p.paths.stage(name)) {
		return nil, nil
	}
	job, err := p.sftDirectJob(true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	bctx, stop := context.WithCancel(ctx)
	t0 := time.Now()
	b := &besideStage{name: name, stop: stop, done: make(chan struct{})}
	p.beginPeak(name)
	p.logf("%s: training beside SFT and the reward model, one core each", name)
	model.SetThreads(1)
	restoreGC := lowerGCPercent(besideGCPercent)
	go func() {
		defer close(b.done)
		res, err := job(bctx)
		model.SetThreads(0) // the main line has the machine to itself again
		restoreGC()
		b.seconds = time.Since(t0).Seconds()
		if err != nil {
			b.err = fmt.Errorf("%s: %w", name, err)
			if bctx.Err() == nil {
				stopMain(b.err)
			}
			return
		}
		b.metrics = res.Metrics
	}()
	return b, nil
}

// besideGCPercent is the garbage collector's GOGC while a stage runs beside the main line:
// the heap may grow by a quarter of what is live between collections, not by all of it (Go's
// default, 100), so that two stages' memory stays under 300 MB. With SFT and sft-direct at
// once about 205 MB are live (two training graphs, 81 and 30 MiB, two models with their
// optimizers, two sets of rows, the world); the default run peaked at 307 MiB with Go's
// default (runs/final17) and 294 MiB with 50 (runs/final17b). Collections stay rare (an SFT
// step allocates a few KiB: GODEBUG=gctrace=1 shows one about every 80 s).
const besideGCPercent = 25

// lowerGCPercent sets GOGC to percent unless it is lower already (or off), and returns what
// puts the previous setting back.
func lowerGCPercent(percent int) (restore func()) {
	old := debug.SetGCPercent(percent)
	if old < 0 || old <= percent {
		debug.SetGCPercent(old)
		return func() {}
	}
	return func() { debug.SetGCPercent(old) }
}

// joinBeside waits for the stage beside the main line and records its time, metrics and peak
// memory (the process's while it ran) as timed does.
func (p *pipeline) joinBeside(b *besideStage) error {
	<-b.done
	b.stop()
	if b.err != nil {
		return b.err
	}
	debug.FreeOSMemory()
	p.notePeak(b.name)
	p.metrics[b.name] = b.metrics
	p.seconds[b.name] = b.seconds
	p.recorded[b.name] = b.seconds
	if err := saveTimes(p.paths.times(), p.recorded); err != nil {
		return fmt.Errorf("%s: recording its time: %w", b.name, err)
	}
	return nil
}

// pretrain trains the BPE tokenizer and the base model on the world's text.
func (p *pipeline) pretrain(ctx context.Context) (tokenizer.Tokenizer, error) {
	out := p.paths.stage("pretrain")
	text := p.pretrainText()
	if complete(out) {
		ck, err := model.LoadCheckpoint(out)
		if err != nil {
			return nil, err
		}
		if err := p.samePretrainPlan(out, ck); err != nil {
			return nil, err
		}
		p.logf("pretrain: %s exists, skipping", out)
		p.seconds["pretrain"] = p.stageSeconds("pretrain", ck.Metrics)
		p.metrics["pretrain"] = ck.Metrics
		return ck.Tokenizer, nil
	}
	tok, err := tokenizer.TrainBPE(text, tokenizer.BPEConfig{VocabSize: p.plan.BPEVocab, PreSplit: tokenizer.PreSplitGPT2, SplitDigits: p.plan.BPESplitDigits})
	if err != nil {
		return nil, err
	}
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: text}}, tok, 0.05)
	if err != nil {
		return nil, err
	}
	mc := p.plan.Model
	mc.VocabSize = tok.VocabSize()
	p.logf("pretrain: %d KB of text, BPE vocab %d, %d training tokens, model %d parameters",
		len(text)/1024, tok.VocabSize(), len(corpus.Train), mc.NumParams())
	cfg := pretrain.DefaultConfig()
	cfg.Model, cfg.Batch, cfg.Steps = p.plan.Model, p.plan.PretrainBatch, p.plan.PretrainSteps
	cfg.LR, cfg.WarmupSteps, cfg.EvalInterval, cfg.EvalIters = 2e-3, 50, p.plan.PretrainSteps/3, 20
	cfg.CheckpointInterval, cfg.Seed, cfg.Out, cfg.OnProgress = 250, p.plan.Seed, out, p.progress
	res, err := pretrain.Train(ctx, cfg, corpus)
	if err != nil {
		return nil, err
	}
	p.metrics["pretrain"] = res.Metrics
	return tok, nil
}

// sft fine-tunes on the world's demonstrations, mixing in a little pretraining text.
func (p *pipeline) sft(ctx context.Context, tok tokenizer.Tokenizer) error {
	out := p.paths.stage("sft")
	if complete(out) {
		return p.skip("sft", out)
	}
	convs := p.sftConversations()
	nVal := len(convs) / 20
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: p.pretrainText()}}, tok, 0.05)
	if err != nil {
		return err
	}
	res, err := sft.TrainFile(ctx, p.sftConfig(out, convs[:nVal]), p.paths.stage("pretrain"), sft.Data{Train: convs[nVal:], Val: convs[:nVal], Pretrain: corpus.Train})
	if err != nil {
		return err
	}
	p.metrics["sft"] = res.Metrics
	return nil
}

// sftConfig is SFT's configuration, writing to out, for the validation split val.
func (p *pipeline) sftConfig(out string, val []data.Conversation) sft.Config {
	cfg := sft.DefaultConfig()
	cfg.Batch, cfg.Block, cfg.Steps, cfg.LR, cfg.WarmupSteps = 16, p.sftBlock(), p.plan.SFTSteps, 3e-4, p.plan.SFTSteps/20
	cfg.PretrainMix, cfg.EvalInterval, cfg.FormatPrompts, cfg.MaxReplyTokens = 0.1, p.plan.SFTSteps/2, formatPrompts(val, 50), p.plan.MaxReplyTokens
	cfg.CheckpointInterval, cfg.Seed, cfg.Out, cfg.OnProgress = 100, p.plan.Seed, out, p.progress
	cfg.Unpacked = p.plan.Unpacked
	return cfg
}

// skip records the stored time and metrics of a stage whose checkpoint at path exists, reading
// only the file's header.
func (p *pipeline) skip(name, path string) error {
	info, err := model.ReadCheckpointInfo(path)
	if err != nil {
		return err
	}
	p.logf("%s: %s exists, skipping", name, path)
	p.seconds[name] = p.stageSeconds(name, info.Metrics)
	p.metrics[name] = info.Metrics
	return nil
}

// reward samples replies from the SFT model, ranks them with the gold judge (InstructGPT's
// recipe, with templated replies added for variety) and trains the reward model.
func (p *pipeline) reward(ctx context.Context) error {
	out := p.paths.stage("reward")
	if complete(out) {
		return p.skip("reward", out)
	}
	t0 := time.Now()
	rankings, err := p.preferences(ctx)
	if err != nil {
		return err
	}
	rankings = append(rankings, p.skillRankings()...)
	p.logf("reward: %d rankings from SFT samples and templated replies, judged in %.0fs", len(rankings), time.Since(t0).Seconds())
	nVal := len(rankings) / 10
	cfg := reward.DefaultConfig()
	cfg.Batch, cfg.Block, cfg.Steps, cfg.LR, cfg.WarmupSteps = 16, p.sftBlock(), p.plan.RMSteps, 3e-4, p.plan.RMSteps/20
	cfg.EvalInterval, cfg.CheckpointInterval, cfg.Seed, cfg.Out, cfg.OnProgress = p.plan.RMSteps/2, 500, p.plan.Seed, out, p.progress
	cfg.Unpacked = p.plan.Unpacked
	res, err := reward.TrainFile(ctx, cfg, p.paths.stage("sft"), reward.Data{
		Train: rankings[nVal:], Val: rankings[:nVal],
		Normalize: p.world.SFTConversations(200),
	})
	if err != nil {
		return err
	}
	res.Metrics["seconds"] = time.Since(t0).Seconds() // sampling and judging included
	p.metrics["reward"] = res.Metrics
	return nil
}

// preferences builds rankings: for each RL prompt, SFT samples plus templated candidates,
// ordered by the gold judge, one reply per distinct score.
func (p *pipeline) preferences(ctx context.Context) ([]data.Ranking, error) {
	ck, err := model.LoadStage(p.paths.stage("sft"), model.StageSFT)
	if err != nil {
		return nil, err
	}
	asst, err := chat.NewAssistant(ck.Model, ck.Tokenizer, 32)
	if err != nil {
		return nil, err
	}
	prompts := p.world.RLPrompts(p.plan.RMPrompts)
	msgs := make([][]data.Message, len(prompts))
	for i, pr := range prompts {
		msgs[i] = pr.Messages
	}
	replies, err := asst.Replies(ctx, msgs, model.SampleConfig{
		MaxNewTokens: p.plan.MaxReplyTokens, Temperature: 1, NumSamples: p.plan.RMSamples, Seed: p.plan.Seed,
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(p.plan.Seed, 77))
	var out []data.Ranking
	for i, pr := range prompts {
		type cand struct {
			text  string
			score float64
		}
		var cands []cand
		seen := map[string]bool{}
		add := func(text string, ended bool) {
			if seen[text] || text == "" {
				return
			}
			seen[text] = true
			cands = append(cands, cand{text, p.world.Judge(pr, text, ended).Score})
		}
		for s := 0; s < p.plan.RMSamples; s++ {
			r := replies[i*p.plan.RMSamples+s]
			if r.Ended { // a reply without <|end|> cannot be written as a ranked response
				add(r.Text, true)
			}
		}
		for _, c := range p.world.Candidates(pr, rng) {
			add(c, true)
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
		var resp []string
		last := -1.0
		for _, c := range cands {
			if c.score != last && len(resp) < 6 {
				resp = append(resp, c.text)
				last = c.score
			}
		}
		if len(resp) >= 2 {
			out = append(out, data.Ranking{Source: fmt.Sprintf("tinyworld:rm:%d", i), Prompt: pr.Messages, Responses: resp})
		}
	}
	return out, nil
}

// ppo runs RLHF with PPO against the reward model.
func (p *pipeline) ppo(ctx context.Context, tok tokenizer.Tokenizer) error {
	out := p.paths.stage("rlhf")
	if complete(out) {
		return p.skip("rlhf", out)
	}
	var stream []int32
	if p.plan.PPOPretrainCoef > 0 {
		corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: p.pretrainText()}}, tok, 0.05)
		if err != nil {
			return err
		}
		stream = corpus.Train
	}
	prompts := p.world.RLPrompts(p.plan.RMPrompts * 2)
	msgs := make([][]data.Message, len(prompts))
	for i, pr := range prompts {
		msgs[i] = pr.Messages
	}
	items := p.skillRLItems()
	maxReply := p.plan.MaxReplyTokens
	for _, it := range items {
		msgs = append(msgs, it.msgs)
		maxReply = max(maxReply, skillReplyTokens)
	}
	cfg := rlhf.DefaultPPOConfig()
	cfg.Steps, cfg.Batch, cfg.MiniBatch, cfg.MaxReplyTokens = p.plan.PPOIterations, p.plan.PPOPrompts, 8, maxReply
	cfg.Unpacked = p.plan.Unpacked
	if p.plan.PPOGroupAdvantages {
		cfg.AdvantageGroups = make([]int, len(msgs)) // the original prompts: group 0
		for i := len(prompts); i < len(msgs); i++ {
			cfg.AdvantageGroups[i] = 1 // the skills'
		}
	}
	// Rows as long as the longest prompt and reply need, not the model's block (192, for
	// few-shot prompts): each update costs about in proportion.
	rows, err := rlhf.RolloutBlock(tok, msgs, maxReply)
	if err != nil {
		return err
	}
	if rows < p.plan.Model.BlockSize {
		cfg.Block = rows
	}
	cfg.LR, cfg.ValueLR, cfg.KLCoef = p.plan.PPOLR, 1e-4, p.plan.PPOKL
	cfg.PretrainCoef, cfg.Pretrain = p.plan.PPOPretrainCoef, stream
	if p.plan.PPOClip > 0 {
		cfg.ClipRange = p.plan.PPOClip
	}
	if p.plan.PPOEpochs > 0 {
		cfg.Epochs = p.plan.PPOEpochs
	}
	cfg.CheckpointInterval, cfg.Seed, cfg.Out, cfg.OnProgress = 20, p.plan.Seed, out, p.progress
	cfg.Logger = slog.New(slog.NewTextHandler(p.log, nil))
	tc, err := p.ppoTools()
	if err != nil {
		return err
	}
	cfg.Tools = tc
	if p.plan.CurveInterval > 0 {
		if cfg.Evaluate, err = p.curvesAndCollection(); err != nil {
			return err
		}
		cfg.EvalInterval = p.plan.CurveInterval
	}
	var res *train.Result
	if p.plan.SkillReward == skillRewardGold && len(items) > 0 {
		res, err = p.ppoWithGoldSkills(ctx, cfg, tok, items, msgs)
	} else {
		res, err = rlhf.TrainPPOFile(ctx, cfg, p.paths.stage("sft"), p.paths.stage("reward"), msgs)
	}
	if err != nil {
		return err
	}
	p.metrics["rlhf"] = res.Metrics
	return nil
}

// samePretrainPlan checks that a finished pretraining checkpoint is this plan's: the same
// model shape and a BPE of the plan's size and pre-splitting. A run folder of another plan
// (say, an earlier default's) would otherwise be taken as this plan's first stage.
func (p *pipeline) samePretrainPlan(path string, ck *model.Checkpoint) error {
	got, want := ck.Model.Config, p.plan.Model
	var diffs []string
	for _, d := range []struct {
		name      string
		got, want int
	}{{"n_layer", got.Layers, want.Layers}, {"n_head", got.Heads, want.Heads}, {"n_embd", got.Width, want.Width},
		{"block_size", got.BlockSize, want.BlockSize}, {"BPE vocab", ck.Tokenizer.VocabSize(), p.plan.BPEVocab}} {
		if d.got != d.want {
			diffs = append(diffs, fmt.Sprintf("%s %d, this plan %d", d.name, d.got, d.want))
		}
	}
	if bpe, ok := ck.Tokenizer.(*tokenizer.BPE); !ok || bpe.PreSplit() != tokenizer.PreSplitGPT2 {
		diffs = append(diffs, "its tokenizer does not pre-split as GPT-2 does")
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s is another plan's pretrained model (%s): delete %s or write this run elsewhere with -out",
			path, strings.Join(diffs, "; "), p.paths.dir)
	}
	return nil
}

// curvesAndCollection is the RL stages' evaluation hook: curveEvaluator's gold and proxy
// scores, then a garbage collection. A collection at each curve point (every CurveInterval
// iterations, about 20 s) bounds the garbage an RL stage leaves between collections, and so
// its peak memory, to what those iterations allocate: left to Go's pacing (a collection when
// the heap doubles, or every 2 minutes) PPO's reached 100 MB and more over a live heap of
// about 240 MB. It costs a few tenths of a second in all.
func (p *pipeline) curvesAndCollection() (func(context.Context, *model.Model) (map[string]float64, error), error) {
	curves, err := p.curveEvaluator()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, m *model.Model) (map[string]float64, error) {
		defer runtime.GC()
		return curves(ctx, m)
	}, nil
}

// curveEvaluator measures a policy for the over-optimisation curves: one reply sampled (T=1,
// a fixed seed) to each of plan.CurvePrompts held-out prompts, judged by the gold judge
// ("gold", its mean score) and scored by the reward model ("proxy", its mean reward).
func (p *pipeline) curveEvaluator() (func(context.Context, *model.Model) (map[string]float64, error), error) {
	rm, err := reward.Load(p.paths.stage("reward"))
	if err != nil {
		return nil, err
	}
	prompts := p.world.EvalPrompts(p.plan.EvalPrompts)[:min(p.plan.CurvePrompts, p.plan.EvalPrompts)]
	return tinyeval.GoldProxy(p.world, prompts, rm, rm.Tokenizer(),
		model.SampleConfig{MaxNewTokens: p.plan.MaxReplyTokens, Temperature: 1, Seed: p.plan.Seed + 77}), nil
}

// newWorld is the tiny world every stage draws from.
func newWorld(seed uint64) *tinyworld.World { return tinyworld.New(tinyworld.Config{Seed: seed}) }
