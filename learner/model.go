package learner

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slhf-dev/slhf/learner/gda"
	"github.com/slhf-dev/slhf/schemas"
)

// Model is the learner the service drives: a preference model, the Leader
// and Follower scorers, their StackelbergGDA optimiser and the candidate
// sets of recently seen prompts.
//
// A Model is not safe for concurrent use: one goroutine owns it and calls
// Learn, Snapshot, State and Restore. Readers use Snapshots.
type Model struct {
	cfg  Config
	log  *slog.Logger
	met  *metrics
	feat featurizer

	pref     *prefModel
	leader   mlpShape
	follower mlpShape
	theta    []float64 // Leader parameters, updated in place by gda
	phi      []float64 // Follower parameters, updated in place by gda
	opt      *gda.StackelbergGDA
	grads    *gradients
	scratch  *gameScratch

	contexts *contextCache
	pcg      *rand.PCG
	rng      *rand.Rand
	tick     uint64 // events seen; orders candidates for eviction
	steps    int64  // GDA steps taken: the model version
	totals   totals
}

// totals are the running progressive-validation counts.
type totals struct {
	events, judged, correct int64
	logLoss                 float64 // sum over events
}

// LearnStats describes one Learn call. The progressive-validation figures
// (Judged, Correct, LogLoss) are measured before the preference model saw
// each event, so they are honest held-out numbers.
type LearnStats struct {
	Events  int     // events applied
	Judged  int     // events with a non-tie label
	Correct int     // judged events on whose side the model's p fell
	LogLoss float64 // mean cross-entropy against the soft labels, nats

	GDASteps int // GDA steps taken: 0 to Config.GameSteps
	Contexts int // contexts (or logged samples) in the last GDA step
	Skipped  int // logged samples left out: stale, evicted or not reweightable

	// Policy statistics of the last GDA step, averaged over its contexts; zero
	// when GDASteps is 0. LeaderObjective is f of eq. 5 (the Follower
	// minimises the same f); LeaderSurvival is E[p(y ≻ y')], the Leader's
	// chance to survive refinement.
	LeaderObjective float64
	LeaderSurvival  float64
	LeaderEntropy   float64
	FollowerEntropy float64
	LeaderKL        float64
	FollowerKL      float64

	// Step is what gda did with the gradients (norms before clipping,
	// whether each player moved).
	Step gda.StepInfo
}

// New builds a Model with freshly initialised weights. logger nil discards
// logs; reg nil skips metric registration. A Registerer that already holds
// the learner's metrics makes New fail.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new learner: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	enc, err := NewEncoder(cfg.Encoder, cfg.Dim)
	if err != nil {
		return nil, fmt.Errorf("new learner: %w", err)
	}
	m := &Model{cfg: cfg, log: logger, feat: featurizer{enc: enc, payoff: cfg.FollowerPayoffInput}}
	if m.met, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("new learner: %w", err)
	}
	m.initWeights()
	if m.opt, err = gda.New(cfg.GDA, len(m.theta), len(m.phi)); err != nil {
		return nil, fmt.Errorf("new learner: %w", err)
	}
	if m.grads, err = newGradients(m); err != nil {
		return nil, fmt.Errorf("new learner: %w", err)
	}
	m.scratch = newGameScratch(m)
	m.contexts = newContextCache(cfg.ContextCache)
	logger.Info("learner created", "learner_fingerprint", cfg.Fingerprint(),
		"encoder", cfg.Encoder, "payoff", cfg.Payoff, "autodiff", cfg.Autodiff,
		"leader_params", len(m.theta), "follower_params", len(m.phi))
	return m, nil
}

// initWeights draws every weight from the seeded generator.
func (m *Model) initWeights() {
	m.pcg = rand.NewPCG(uint64(m.cfg.Seed), 0x5f3759df)
	m.rng = rand.New(m.pcg)
	f := m.feat.width()
	m.pref = newPrefModel(f, m.cfg.PrefRank, m.cfg.PrefLR, m.cfg.PrefDecay, m.rng)
	m.leader = mlpShape{in: f, hidden: m.cfg.Hidden}
	m.follower = mlpShape{in: m.feat.followerWidth(), hidden: m.cfg.Hidden}
	m.theta = make([]float64, m.leader.size())
	m.phi = make([]float64, m.follower.size())
	m.leader.init(m.theta, m.rng)
	m.follower.init(m.phi, m.rng)
}

// Config returns the configuration the Model was built with.
func (m *Model) Config() Config { return m.cfg }

// Version returns the number of GDA steps taken, the version stamped on
// snapshots.
func (m *Model) Version() int64 { return m.steps }

// Close releases the compiled gorgonia graphs. The Model must not be used
// afterwards. Close is idempotent.
func (m *Model) Close() error {
	if m.grads == nil {
		return nil
	}
	err := m.grads.close()
	m.grads = nil
	return err
}

// observation is one event after encoding, before it changes anything.
type observation struct {
	ev     *schemas.Preference
	key    string
	info   *promptInfo // shared by every event of the same new prompt
	za, zb []float64
}

// Learn applies one micro-batch of validated events exactly once, in three
// steps: every event is encoded first, so an encoding error (a missing or
// mis-sized embedding under the column encoder) returns before anything
// changed; then, event by event, the preference model is evaluated
// (progressive validation) and updated, and both responses join the
// candidate set C(x) of their prompt; last, Config.GameSteps
// StackelbergGDA steps run over the contexts of the batch and any replayed
// ones (see gameStep). events is only read;
// their weights are taken as validated (finite, ≥ 0).
//
// An error from the gradient stage, which only a failing gorgonia run can
// cause and which would be a bug, comes after the preference model learned
// the batch; the policies are then left unchanged.
func (m *Model) Learn(events []schemas.Preference) (LearnStats, error) {
	start := time.Now()
	obs, err := m.encode(events)
	if err != nil {
		return LearnStats{}, fmt.Errorf("learn batch: %w", err)
	}
	st := LearnStats{Events: len(obs)}
	touched, samples := m.updatePreferences(obs, &st)
	if err := m.gameStep(touched, samples, &st); err != nil {
		return st, fmt.Errorf("learn batch: %w", err)
	}
	m.publish(st, time.Since(start))
	return st, nil
}

// encode computes the features of every event without touching state.
func (m *Model) encode(events []schemas.Preference) ([]observation, error) {
	obs := make([]observation, len(events))
	fresh := make(map[string]*promptInfo)
	for i := range events {
		ev := &events[i]
		o := observation{ev: ev, key: promptKey(ev.PromptID, ev.Prompt)}
		ctx := m.contexts.peek(o.key)
		var err error
		if o.info, err = m.promptInfo(ctx, fresh, o.key, ev); err != nil {
			return nil, fmt.Errorf("event %q: %w", ev.EventID, err)
		}
		if o.za, err = m.features(ctx, o.info, ev.ResponseA, ev.EmbeddingA); err != nil {
			return nil, fmt.Errorf("event %q: response a: %w", ev.EventID, err)
		}
		if o.zb, err = m.features(ctx, o.info, ev.ResponseB, ev.EmbeddingB); err != nil {
			return nil, fmt.Errorf("event %q: response b: %w", ev.EventID, err)
		}
		obs[i] = o
	}
	return obs, nil
}

// promptInfo returns the cached prompt encoding, encoding a new prompt
// once per batch.
func (m *Model) promptInfo(ctx *context, fresh map[string]*promptInfo, key string,
	ev *schemas.Preference) (*promptInfo, error) {
	if ctx != nil {
		return &ctx.info, nil
	}
	if p, ok := fresh[key]; ok {
		return p, nil
	}
	p, err := m.feat.prompt(ev.Prompt, ev.PromptEmbedding)
	if err != nil {
		return nil, err
	}
	fresh[key] = &p
	return &p, nil
}

// features returns z(x, y). A response already in C(x) reuses its cached
// vector, so it needs no embedding; one that is carried must still have
// the configured width.
func (m *Model) features(ctx *context, info *promptInfo, text string,
	emb []float32) ([]float64, error) {
	if m.cfg.Encoder == EncoderColumn && emb != nil && len(emb) != m.cfg.Dim {
		return nil, &DimensionError{What: "embedding", Got: len(emb), Want: m.cfg.Dim}
	}
	if ctx != nil {
		if i := ctx.find(text); i >= 0 {
			return ctx.cands[i].z, nil
		}
	}
	z := make([]float64, m.feat.width())
	if err := m.feat.response(z, info, text, emb); err != nil {
		return nil, err
	}
	return z, nil
}

// loggedSample is an event that can train the policies under the labels
// payoff; it becomes a gda.Sample once its context's game is built.
type loggedSample struct {
	ctx *context
	ev  *schemas.Preference
}

// updatePreferences runs progressive validation and the preference-model
// update for each event in order, and files both responses under their
// prompt. It returns the touched contexts in first-touch order and, under
// the labels payoff, the events that carry behaviour probabilities.
func (m *Model) updatePreferences(obs []observation, st *LearnStats) ([]*context, []loggedSample) {
	var touched []*context
	var samples []loggedSample
	seen := make(map[*context]bool)
	for i := range obs {
		o := &obs[i]
		st.LogLoss += m.judge(o, st)
		ctx := m.file(o)
		if !seen[ctx] {
			seen[ctx] = true
			touched = append(touched, ctx)
		}
		if m.cfg.Payoff == PayoffLabels && hasBehaviour(o.ev) {
			samples = append(samples, loggedSample{ctx: ctx, ev: o.ev})
		}
	}
	if len(obs) > 0 {
		st.LogLoss /= float64(len(obs))
	}
	return touched, samples
}

// judge scores one event with the preference model as it stands, counts
// the outcome, then takes the update step; it returns the event's
// log-loss. Ties count towards the log-loss but not the accuracy.
func (m *Model) judge(o *observation, st *LearnStats) float64 {
	l, wt := float64(o.ev.Preference), 1.0
	if o.ev.Weight != nil {
		wt = float64(*o.ev.Weight)
	}
	p := m.pref.update(o.za, o.zb, l, wt)
	if l != 0.5 {
		st.Judged++
		if (p > 0.5) == (l > 0.5) {
			st.Correct++
		}
	}
	return logLoss(p, l)
}

// file adds the event's two responses to C(x), creating the context when
// the prompt is new.
func (m *Model) file(o *observation) *context {
	ctx := m.contexts.get(o.key)
	if ctx == nil {
		ctx = &context{key: o.key, prompt: o.ev.Prompt, info: *o.info}
		m.contexts.put(ctx)
	}
	m.tick++
	ia := ctx.add(o.ev.ResponseA, o.za, m.tick, m.cfg.MaxCandidates)
	// Pin a while b is filed, so b can never evict it from a full set.
	ctx.cands[ia].seen = m.tick + 1
	m.tick++
	ctx.add(o.ev.ResponseB, o.zb, m.tick, m.cfg.MaxCandidates)
	return ctx
}

// hasBehaviour reports whether ev logged a leader/follower pair with both
// behaviour probabilities, the only events the sampled estimator may use.
func hasBehaviour(ev *schemas.Preference) bool {
	roles := ev.RoleA == schemas.RoleLeader && ev.RoleB == schemas.RoleFollower ||
		ev.RoleA == schemas.RoleFollower && ev.RoleB == schemas.RoleLeader
	return roles && ev.ProbA != nil && ev.ProbB != nil
}

// publish folds st into the running totals and the metrics.
func (m *Model) publish(st LearnStats, took time.Duration) {
	t := &m.totals
	t.events += int64(st.Events)
	t.judged += int64(st.Judged)
	t.correct += int64(st.Correct)
	t.logLoss += st.LogLoss * float64(st.Events)
	m.met.events.Add(float64(st.Events))
	m.met.stepSeconds.Observe(took.Seconds())
	if t.judged > 0 {
		m.met.accuracy.Set(float64(t.correct) / float64(t.judged))
	}
	if t.events > 0 {
		m.met.logLoss.Set(t.logLoss / float64(t.events))
	}
	m.met.contexts.Set(float64(m.contexts.order.Len()))
	if st.GDASteps == 0 {
		return
	}
	m.met.steps.Add(float64(st.GDASteps))
	m.met.version.Set(float64(m.steps))
	m.met.objective.Set(st.LeaderObjective)
	m.met.payoff.Set(st.LeaderSurvival)
	m.met.entropy.WithLabelValues("leader").Set(st.LeaderEntropy)
	m.met.entropy.WithLabelValues("follower").Set(st.FollowerEntropy)
	m.met.kl.WithLabelValues("leader").Set(st.LeaderKL)
	m.met.kl.WithLabelValues("follower").Set(st.FollowerKL)
}
