package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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
	"github.com/tinychat-go/tinychat/train"
)

// allMethods are the methods in the order of the report.
var allMethods = []string{"sft", "best-of-n", "ppo", "ppo-ptx", "dpo", "grpo", "rloo", "grpo-gold"}

// bakeoff is one comparison run.
type bakeoff struct {
	runDir, out string
	methods     []string
	command     string // the command line, for the report
	plan        runPlan
	world       *tinyworld.World
	log         *slog.Logger
	progress    func(train.Progress)

	sft, rm   *model.Checkpoint
	scorer    *reward.Scorer
	eval      []tinyworld.Prompt
	evalMsgs  [][]data.Message
	sftJudged *judged
	pairs     []data.Ranking // DPO's, once sampled
}

func newBakeoff(runDir, out string, methods []string) (*bakeoff, error) {
	for _, m := range methods {
		if !contains(allMethods, m) {
			return nil, fmt.Errorf("unknown method %q (the methods: %s)", m, strings.Join(allMethods, ", "))
		}
	}
	plan, err := readPlan(runDir)
	if err != nil {
		return nil, err
	}
	return &bakeoff{runDir: runDir, out: out, methods: methods, plan: plan, log: slog.New(slog.DiscardHandler)}, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// budget is the number of replies every trained method samples: PPO's iterations × prompts.
func (b *bakeoff) budget() int { return b.plan.PPOIterations * b.plan.PPOPrompts }

func (b *bakeoff) run(ctx context.Context) (*report, error) {
	t0, load := time.Now(), loadAverage()
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	rep := &report{Budget: b.budget(), EvalPrompts: len(b.eval), EvalSamples: b.plan.EvalSamples, Command: b.command, CPUs: runtime.NumCPU()}
	var err error
	if rep.RLRows, err = b.rows(); err != nil {
		return nil, err
	}
	for _, m := range b.methods {
		switch m {
		case "sft":
			rep.Rows = append(rep.Rows, b.row("SFT", b.sftJudged, 0, 0))
		case "best-of-n":
			rows, err := b.bestOfN(ctx)
			if err != nil {
				return nil, fmt.Errorf("best-of-n: %w", err)
			}
			rep.Rows = append(rep.Rows, rows...)
		default:
			r, err := b.trained(ctx, m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m, err)
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	rep.DPORows = b.dpoRows()
	rep.Seconds, rep.Load = time.Since(t0).Seconds(), []float64{load, loadAverage()}
	return rep, b.write(rep)
}

// dpoRows is the row length DPO's checkpoint records (-1 without one).
func (b *bakeoff) dpoRows() int {
	info, err := model.ReadCheckpointInfo(filepath.Join(b.out, "dpo.safetensors"))
	if err != nil {
		return -1
	}
	return trainedBlock(info)
}

// setup loads the checkpoints, makes the world and its held-out prompts, and judges SFT.
func (b *bakeoff) setup(ctx context.Context) error {
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		return err
	}
	var err error
	if b.sft, err = model.LoadStage(filepath.Join(b.runDir, "sft.safetensors"), model.StageSFT); err != nil {
		return err
	}
	if b.rm, err = model.LoadStage(filepath.Join(b.runDir, "reward.safetensors"), model.StageReward); err != nil {
		return err
	}
	if b.scorer, err = reward.FromCheckpoint(b.rm); err != nil {
		return err
	}
	b.world = newWorld(b.plan.Seed)
	b.eval = b.world.EvalPrompts(b.plan.EvalPrompts)
	b.evalMsgs = make([][]data.Message, len(b.eval))
	for i, p := range b.eval {
		b.evalMsgs[i] = p.Messages
	}
	if b.sftJudged, err = b.judge(ctx, b.sft.Model); err != nil {
		return fmt.Errorf("evaluating sft: %w", err)
	}
	return nil
}

// trained trains method m (unless its checkpoint is complete) and evaluates it.
func (b *bakeoff) trained(ctx context.Context, m string) (row, error) {
	out := filepath.Join(b.out, m+".safetensors")
	if m == "ppo-ptx" && b.plan.PPOPretrainCoef > 0 && !b.plan.SkillRL {
		// tinychat's RLHF stage is PPO-ptx with this very plan: reuse it (with its metrics log)
		// rather than train it again, if it was trained on the same rows.
		rows, err := b.rows()
		if err != nil {
			return row{}, err
		}
		if err := reuse(filepath.Join(b.runDir, "rlhf.safetensors"), out, rows); err != nil {
			return row{}, err
		}
	}
	t0 := time.Now()
	seconds := time.Duration(0)
	if info, err := model.ReadCheckpointInfo(out); err == nil && !info.HasOptimizer {
		seconds = time.Duration(info.Metrics["seconds"] * float64(time.Second))
	} else {
		if err := b.train(ctx, m, out); err != nil {
			return row{}, err
		}
		seconds = time.Since(t0)
	}
	ck, err := model.LoadStage(out, model.StageRLHF)
	if err != nil {
		return row{}, err
	}
	j, err := b.judge(ctx, ck.Model)
	if err != nil {
		return row{}, err
	}
	r := b.row(methodName(m), j, b.budget(), seconds.Seconds())
	if lines, err := train.ReadMetrics(train.MetricsPath(out)); err == nil {
		for _, a := range rlhf.Alarms(lines, rlhf.AlarmConfig{MaxReplyTokens: b.plan.MaxReplyTokens}) {
			r.Alarms = append(r.Alarms, a.String())
		}
	}
	return r, nil
}

// reuse copies a complete checkpoint and its metrics log to out, unless out exists or src is
// not a complete checkpoint trained on rows of the given length (its recorded Block setting;
// checkpoints from before PPO had one were trained on the model's block).
func reuse(src, out string, rows int) error {
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	info, err := model.ReadCheckpointInfo(src)
	if err != nil || info.HasOptimizer || trainedBlock(info) != rows {
		return nil
	}
	for _, pair := range [][2]string{{train.MetricsPath(src), train.MetricsPath(out)}, {src, out}} { // the checkpoint last: it marks the copy complete
		b, err := os.ReadFile(pair[0])
		if err != nil {
			return err
		}
		if err := os.WriteFile(pair[1]+".tmp", b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(pair[1]+".tmp", pair[1]); err != nil {
			return err
		}
	}
	return nil
}

// trainedBlock is the Block setting a checkpoint records (0 when it records none).
func trainedBlock(info model.CheckpointInfo) int {
	var settings map[string]string
	if json.Unmarshal([]byte(info.Extra["train.settings"]), &settings) != nil {
		return -1
	}
	block := 0
	if v, ok := settings["Block"]; ok && json.Unmarshal([]byte(v), &block) != nil {
		return -1
	}
	return block
}

// rows is the row length of the RL methods' training graphs: rlhf.RolloutBlock of the RL
// prompts and MaxReplyTokens when that is below the model's block, else 0 (the model's). The
// tiny world's prompts are short, so the rows are about a third of the block of 192, and so is
// every update's cost.
func (b *bakeoff) rows() (int, error) {
	rows, err := rlhf.RolloutBlock(b.sft.Tokenizer, b.rlPrompts(), b.plan.MaxReplyTokens)
	if err != nil {
		return 0, err
	}
	if rows >= b.sft.Model.Config.BlockSize {
		return 0, nil
	}
	return rows, nil
}

// rlPrompts are the prompts every RL method trains on (and DPO's pairs answer).
func (b *bakeoff) rlPrompts() [][]data.Message {
	rl := b.world.RLPrompts(b.plan.RMPrompts * 2)
	prompts := make([][]data.Message, len(rl))
	for i, pr := range rl {
		prompts[i] = pr.Messages
	}
	return prompts
}

func methodName(m string) string {
	return map[string]string{
		"ppo": "PPO", "ppo-ptx": "PPO-ptx", "dpo": "DPO", "grpo": "GRPO", "rloo": "RLOO", "grpo-gold": "GRPO, gold reward",
	}[m]
}

// pretrainStream is the token stream of the pretraining mix (PPO-ptx's, and the group methods'
// with GroupPretrainCoef): the training part of the tiny world's pretraining text.
func (b *bakeoff) pretrainStream() ([]int32, error) {
	corpus, err := pretrain.NewCorpus([]data.Document{{Source: "tinyworld", Text: b.world.PretrainText()}}, b.sft.Tokenizer, 0.05)
	if err != nil {
		return nil, err
	}
	return corpus.Train, nil
}

// train runs method m into out with the budget of sampled replies.
func (b *bakeoff) train(ctx context.Context, m, out string) error {
	p := b.plan
	rl := b.world.RLPrompts(p.RMPrompts * 2)
	prompts := b.rlPrompts()
	curves, err := b.curves()
	if err != nil {
		return err
	}
	rows, err := b.rows()
	if err != nil {
		return err
	}
	switch m {
	case "ppo", "ppo-ptx":
		cfg := rlhf.DefaultPPOConfig()
		cfg.Steps, cfg.Batch, cfg.MiniBatch, cfg.MaxReplyTokens = p.PPOIterations, p.PPOPrompts, 8, p.MaxReplyTokens
		cfg.LR, cfg.ValueLR, cfg.KLCoef, cfg.Block = p.PPOLR, 1e-4, p.PPOKL, rows
		if m == "ppo-ptx" {
			if cfg.Pretrain, err = b.pretrainStream(); err != nil {
				return err
			}
			cfg.PretrainCoef = p.PPOPretrainCoef
		}
		b.common(&cfg.Config, out)
		cfg.Evaluate, cfg.EvalInterval = curves, p.CurveInterval
		_, err := rlhf.TrainPPO(ctx, cfg, b.sft, b.rm, prompts)
		return err
	case "grpo", "rloo", "grpo-gold":
		cfg := rlhf.DefaultGRPOConfig()
		var scorer rlhf.Scorer = b.scorer
		ref := "reward model"
		switch m {
		case "rloo":
			cfg = rlhf.DefaultRLOOConfig()
			cfg.KLCoef = p.PPOKL
		case "grpo-gold":
			scorer, ref = b.goldScorer(rl), "gold judge"
		}
		cfg.Group = b.plan.GroupSize
		cfg.Batch = max(1, p.PPOPrompts/cfg.Group)
		cfg.Steps = max(1, b.budget()/(cfg.Batch*cfg.Group))
		cfg.MiniBatch, cfg.MaxReplyTokens, cfg.LR, cfg.Block = min(16, cfg.Batch*cfg.Group), p.MaxReplyTokens, p.PPOLR, rows
		if p.GroupPretrainCoef > 0 {
			if cfg.Pretrain, err = b.pretrainStream(); err != nil {
				return err
			}
			cfg.PretrainCoef = p.GroupPretrainCoef
		}
		b.common(&cfg.Config, out)
		cfg.Evaluate, cfg.EvalInterval = curves, max(1, cfg.Steps*p.CurveInterval/p.PPOIterations) // as often as PPO's, relative to the run
		_, err := rlhf.TrainGroup(ctx, cfg, b.sft, scorer, ref, prompts)
		return err
	case "dpo":
		if b.pairs == nil {
			if b.pairs, err = b.dpoPairs(ctx, rl); err != nil {
				return err
			}
		}
		pairs := b.pairs
		nVal := len(pairs) / 20
		cfg := rlhf.DefaultDPOConfig()
		cfg.Beta, cfg.LR, cfg.RPOAlpha, cfg.Epochs = p.DPOBeta, p.DPOLR, p.DPORPOAlpha, p.DPOEpochs
		if cfg.Block, err = b.dpoBlock(pairs, rows); err != nil {
			return err
		}
		b.log.Info("dpo", "pairs", len(pairs), "held_out", nVal, "rows", cfg.Block, "beta", cfg.Beta, "lr", cfg.LR, "rpo_alpha", cfg.RPOAlpha, "epochs", cfg.Epochs)
		b.common(&cfg.Config, out)
		cfg.LogInterval = 0
		_, err = rlhf.TrainDPO(ctx, cfg, b.sft, pairs[nVal:], pairs[:nVal])
		return err
	}
	return fmt.Errorf("unknown method %q", m)
}

// common sets what every method's training config shares.
func (b *bakeoff) common(c *train.Config, out string) {
	c.Seed, c.Out, c.Logger, c.OnProgress, c.CheckpointInterval = b.plan.Seed, out, b.log, b.progress, 20
}

// dpoPairs spends the budget on DPO's data: two replies sampled from SFT for each of budget/2
// prompts, ranked by the reward model (pairs with equal rewards or an unfinished reply are
// left out).
func (b *bakeoff) dpoPairs(ctx context.Context, rl []tinyworld.Prompt) ([]data.Ranking, error) {
	asst, err := b.lanes(b.sft.Model)
	if err != nil {
		return nil, err
	}
	n := min(len(rl), b.budget()/2)
	msgs := make([][]data.Message, n)
	for i := range msgs {
		msgs[i] = rl[i].Messages
	}
	replies, err := asst.Replies(ctx, msgs, model.SampleConfig{MaxNewTokens: b.plan.MaxReplyTokens, Temperature: 1, NumSamples: 2, Seed: b.plan.Seed + 5})
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(replies))
	prompts := make([][]data.Message, len(replies))
	for i, r := range replies {
		texts[i], prompts[i] = r.Text, msgs[i/2]
	}
	scores, err := b.scorer.ScoreBatch(ctx, prompts, texts)
	if err != nil {
		return nil, err
	}
	var out []data.Ranking
	for i := 0; i < len(replies); i += 2 {
		a, c := i, i+1
		if !replies[a].Ended || !replies[c].Ended || scores[a] == scores[c] || texts[a] == texts[c] {
			continue
		}
		if scores[c] > scores[a] {
			a, c = c, a
		}
		out = append(out, data.Ranking{Source: fmt.Sprintf("bakeoff:dpo:%d", i/2), Prompt: msgs[i/2], Responses: []string{texts[a], texts[c]}})
	}
	if len(out) == 0 {
		return nil, errors.New("no preference pair among the SFT samples (every pair tied or did not end)")
	}
	return out, nil
}

// dpoBlock is DPO's row length: the RL methods' rows, or longer (a multiple of 8, at most the
// model's block) if a pair's re-encoded reply needs more, so that no pair is left out (rows 0:
// the model's block).
func (b *bakeoff) dpoBlock(pairs []data.Ranking, rows int) (int, error) {
	if rows == 0 {
		return 0, nil
	}
	need := rows
	for _, r := range pairs {
		for _, reply := range r.Responses {
			ids, _, err := data.RenderChat(b.sft.Tokenizer, append(slices.Clip(r.Prompt), data.Message{Role: data.RoleAssistant, Content: reply}))
			if err != nil {
				return 0, fmt.Errorf("%s: %w", r.Source, err)
			}
			need = max(need, (len(ids)-1+7)/8*8) // the last token is a target, never an input
		}
	}
	if need >= b.sft.Model.Config.BlockSize {
		return 0, nil
	}
	return need, nil
}

// goldScorer scores token sequences with the gold judge (score/100). The prompt is recognised
// among the RL prompts by its last tokens (a rollout may have cut its start to fit the block).
func (b *bakeoff) goldScorer(rl []tinyworld.Prompt) rlhf.Scorer {
	const tail = 32
	key := func(ids []int32) string { return fmt.Sprint(ids[max(0, len(ids)-tail):]) }
	byTail := map[string]tinyworld.Prompt{}
	for _, p := range rl {
		if ids, err := data.RenderPrompt(b.sft.Tokenizer, p.Messages); err == nil {
			byTail[key(ids)] = p
		}
	}
	return rlhf.ScorerFunc(func(_ context.Context, seqs [][]int32) ([]float32, error) {
		out := make([]float32, len(seqs))
		for i, q := range seqs {
			cut := -1
			for j := len(q); j > 0 && cut < 0; j-- {
				if _, ok := byTail[key(q[:j])]; ok && q[j-1] == tokenizer.Assistant {
					cut = j
				}
			}
			if cut < 0 {
				return nil, fmt.Errorf("sequence %d: not a reply to an RL prompt", i)
			}
			text, ended, err := chat.ParseReply(b.sft.Tokenizer, q[cut:])
			if err != nil {
				return nil, err
			}
			out[i] = float32(b.world.Judge(byTail[key(q[:cut])], text, ended).Score / 100)
		}
		return out, nil
	})
}

// curves measures a policy during training, as tinychat does: gold and proxy on the first
// CurvePrompts held-out prompts, one reply each at T=1 with a fixed seed.
func (b *bakeoff) curves() (func(context.Context, *model.Model) (map[string]float64, error), error) {
	n := min(b.plan.CurvePrompts, len(b.eval))
	return tinyeval.GoldProxy(b.world, b.eval[:n], b.scorer, b.sft.Tokenizer,
		model.SampleConfig{MaxNewTokens: b.plan.MaxReplyTokens, Temperature: 1, Seed: b.plan.Seed + 77}), nil
}

// bestOfN evaluates best-of-n against the reward model at every n of the plan: one kept reply
// per held-out prompt, against SFT's first sample.
func (b *bakeoff) bestOfN(ctx context.Context) ([]row, error) {
	asst, err := b.lanes(b.sft.Model)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, n := range b.plan.BestOfN {
		t0 := time.Now()
		best, err := rlhf.BestOfN(ctx, asst, b.scorer, b.evalMsgs, model.SampleConfig{
			MaxNewTokens: b.plan.MaxReplyTokens, Temperature: 1, NumSamples: n, Seed: b.evalSeed() + 31,
		})
		if err != nil {
			return nil, err
		}
		j := &judged{}
		var proxy float64
		for i, bst := range best {
			j.sampled = append(j.sampled, b.world.Judge(b.eval[i], bst.Reply.Text, bst.Reply.Ended))
			proxy += float64(bst.Score)
		}
		r := b.row(fmt.Sprintf("best-of-%d", n), j, n*len(b.eval), time.Since(t0).Seconds())
		r.KL = math.Log(float64(n)) - float64(n-1)/float64(n) // the analytic KL of best-of-n to its sampler
		r.Proxy = proxy / float64(len(best))
		r.NoGreedy = true
		rows = append(rows, r)
	}
	return rows, nil
}

// sampleLanes is the number of engines the bake-off samples its evaluations, best-of-n and
// DPO's pairs on at once, each on a goroutine of its own: a constant, not the machine's core
// count, so that the table is the same on any machine (the split changes which replies share
// an engine, and so float32 round-off).
const sampleLanes = 2

// lanes are sampleLanes assistants over m, 16 sequences each.
func (b *bakeoff) lanes(m *model.Model) (chat.Lanes, error) {
	lanes := make(chat.Lanes, sampleLanes)
	for i := range lanes {
		var err error
		if lanes[i], err = chat.NewAssistant(m, b.sft.Tokenizer, 16); err != nil {
			return nil, err
		}
	}
	return lanes, nil
}

func (b *bakeoff) evalSeed() uint64 {
	if b.plan.EvalSeed != 0 {
		return b.plan.EvalSeed
	}
	return b.plan.Seed + 1000
}
