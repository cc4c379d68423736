package learner

import (
	"math/rand/v2"

	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/slhf-dev/slhf/learner/gda"
	"strconv"
)

// Checkpoint keys of the tensors and metadata written by Model.State.
const (
	keyTheta     = "leader/params"
	keyPhi       = "follower/params"
	keyPref      = "pref/params"
	keyPrefM     = "pref/adam_m"
	keyPrefV     = "pref/adam_v"
	keyCandZ     = "contexts/candidate_features"
	keyPromptEmb = "contexts/prompt_embeddings"
	keyPrefT     = "pref/adam_t"
	keyRNG       = "rng"
	keyTick      = "tick"
	keySteps     = "steps"
	keyTotals    = "totals"
	keyContexts  = "contexts"
	keyFinger    = "fingerprint"
	prefixGDA    = "gda/"
)

// savedContext is the JSON form of one cached prompt; its vectors travel
// as tensors, in the same order.
type savedContext struct {
	Key    string   `json:"key"`
	Prompt string   `json:"prompt"`
	Texts  []string `json:"texts"`
	Seen   []uint64 `json:"seen"`
}

// State returns everything needed to continue training exactly where the
// Model stands: all weights, the preference model's and StackelbergGDA's
// optimiser moments and counters, the random generator, the running
// totals and the context cache (prompts, candidate texts and features).
// The returned maps and slices are fresh copies owned by the caller.
func (m *Model) State() (tensors map[string][]float64, meta map[string]string) {
	tensors = map[string][]float64{
		keyTheta: clone(m.theta), keyPhi: clone(m.phi),
		keyPref: clone(m.pref.params), keyPrefM: clone(m.pref.adam.M),
		keyPrefV: clone(m.pref.adam.V),
	}
	meta = map[string]string{
		keyFinger: m.cfg.Fingerprint(),
		keyPrefT:  strconv.FormatInt(m.pref.adam.T, 10),
		keyTick:   strconv.FormatUint(m.tick, 10),
		keySteps:  strconv.FormatInt(m.steps, 10),
		keyTotals: m.totalsString(),
	}
	rng, _ := m.pcg.MarshalBinary() // PCG's encoder cannot fail
	meta[keyRNG] = base64.StdEncoding.EncodeToString(rng)
	m.saveContexts(tensors, meta)
	m.saveGDA(tensors, meta)
	return tensors, meta
}

func (m *Model) totalsString() string {
	t := m.totals
	return fmt.Sprintf("%d %d %d %s", t.events, t.judged, t.correct,
		strconv.FormatFloat(t.logLoss, 'g', -1, 64))
}

// saveContexts writes the cache from least to most recently used.
func (m *Model) saveContexts(tensors map[string][]float64, meta map[string]string) {
	var saved []savedContext
	var z, emb []float64
	for _, c := range m.contexts.oldestFirst() {
		sc := savedContext{Key: c.key, Prompt: c.prompt}
		for _, cd := range c.cands {
			sc.Texts, sc.Seen = append(sc.Texts, cd.text), append(sc.Seen, cd.seen)
			z = append(z, cd.z...)
		}
		emb = append(emb, c.info.emb...)
		saved = append(saved, sc)
	}
	js, _ := json.Marshal(saved) // strings and integers always encode
	meta[keyContexts] = string(js)
	tensors[keyCandZ], tensors[keyPromptEmb] = z, emb
}

// Restore replaces the Model's state by one returned from State of a Model
// with the same Config.Fingerprint (else ErrFingerprint). A missing or
// mis-sized entry returns an error wrapping ErrCheckpoint; the Model is
// then unchanged, since everything is decoded before anything is written.
func (m *Model) Restore(tensors map[string][]float64, meta map[string]string) error {
	if got, want := meta[keyFinger], m.cfg.Fingerprint(); got != want {
		return fmt.Errorf("restore learner: %w: checkpoint %q, config %q", ErrFingerprint, got, want)
	}
	r, err := m.decodeState(tensors, meta)
	if err != nil {
		return fmt.Errorf("restore learner: %w", err)
	}
	r.apply(m)
	m.met.version.Set(float64(m.steps))
	m.log.Info("learner restored", "version", m.steps, "contexts", m.contexts.order.Len())
	return nil
}

// restored is a fully decoded checkpoint waiting to be applied.
type restored struct {
	theta, phi, pref, prefM, prefV []float64
	prefT                          int64
	tick                           uint64
	steps                          int64
	totals                         totals
	rng                            []byte
	contexts                       *contextCache
	gda                            gda.State
}

func (m *Model) decodeState(tensors map[string][]float64,
	meta map[string]string) (*restored, error) {
	r := &restored{}
	var err error
	exact := func(key string, n int) []float64 {
		if err != nil {
			return nil
		}
		v, ok := tensors[key]
		if !ok {
			err = fmt.Errorf("%w: tensor %q missing", ErrCheckpoint, key)
		} else if len(v) != n {
			de := &DimensionError{What: key, Got: len(v), Want: n}
			err = fmt.Errorf("%w: %w", ErrCheckpoint, de)
		}
		return v
	}
	r.theta, r.phi = exact(keyTheta, len(m.theta)), exact(keyPhi, len(m.phi))
	r.pref, r.prefM = exact(keyPref, len(m.pref.params)), exact(keyPrefM, len(m.pref.params))
	r.prefV = exact(keyPrefV, len(m.pref.params))
	if err != nil {
		return nil, err
	}
	if err := r.decodeCounters(meta); err != nil {
		return nil, err
	}
	if r.contexts, err = m.decodeContexts(tensors, meta); err != nil {
		return nil, err
	}
	if r.gda, err = m.decodeGDA(tensors, meta); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *restored) decodeCounters(meta map[string]string) error {
	var errs [5]error
	r.prefT, errs[0] = strconv.ParseInt(meta[keyPrefT], 10, 64)
	r.tick, errs[1] = strconv.ParseUint(meta[keyTick], 10, 64)
	r.steps, errs[2] = strconv.ParseInt(meta[keySteps], 10, 64)
	r.rng, errs[3] = base64.StdEncoding.DecodeString(meta[keyRNG])
	if errs[3] == nil {
		errs[3] = new(rand.PCG).UnmarshalBinary(r.rng)
	}
	t := &r.totals
	_, errs[4] = fmt.Sscanf(meta[keyTotals], "%d %d %d %g",
		&t.events, &t.judged, &t.correct, &t.logLoss)
	for i, e := range errs {
		if e != nil {
			keys := []string{keyPrefT, keyTick, keySteps, keyRNG, keyTotals}
			return fmt.Errorf("%w: meta %q: %w", ErrCheckpoint, keys[i], e)
		}
	}
	return nil
}

// decodeContexts rebuilds the context cache; prompt word sets are derived
// again from the prompt texts.
func (m *Model) decodeContexts(tensors map[string][]float64,
	meta map[string]string) (*contextCache, error) {
	var saved []savedContext
	if err := json.Unmarshal([]byte(meta[keyContexts]), &saved); err != nil {
		return nil, fmt.Errorf("%w: meta %q: %w", ErrCheckpoint, keyContexts, err)
	}
	z, emb := tensors[keyCandZ], tensors[keyPromptEmb]
	w, d := m.feat.width(), m.feat.enc.Dim()
	cc := newContextCache(m.cfg.ContextCache)
	for _, sc := range saved {
		if len(sc.Texts) != len(sc.Seen) || len(sc.Texts) > m.cfg.MaxCandidates ||
			len(z) < len(sc.Texts)*w || len(emb) < d {
			return nil, fmt.Errorf("%w: context %q does not match its tensors", ErrCheckpoint, sc.Key)
		}
		if cc.peek(sc.Key) != nil {
			return nil, fmt.Errorf("%w: context %q saved twice", ErrCheckpoint, sc.Key)
		}
		c := &context{key: sc.Key, prompt: sc.Prompt}
		c.info, _ = m.feat.prompt(sc.Prompt, nil) // hash never fails; column has no emb here
		copy(c.info.emb, emb[:d])
		emb = emb[d:]
		for i, text := range sc.Texts {
			c.cands = append(c.cands, candidate{text: text, z: clone(z[:w]), seen: sc.Seen[i]})
			z = z[w:]
		}
		cc.put(c)
	}
	if len(z) != 0 || len(emb) != 0 {
		return nil, fmt.Errorf("%w: %d context features left over", ErrCheckpoint, len(z)+len(emb))
	}
	return cc, nil
}

// apply writes the decoded state into m. Parameters are copied into the
// existing slices: the compiled gorgonia graphs hold those arrays.
func (r *restored) apply(m *Model) {
	copy(m.theta, r.theta)
	copy(m.phi, r.phi)
	copy(m.pref.params, r.pref)
	copy(m.pref.adam.M, r.prefM)
	copy(m.pref.adam.V, r.prefV)
	m.pref.adam.T = r.prefT
	m.tick, m.steps, m.totals = r.tick, r.steps, r.totals
	_ = m.pcg.UnmarshalBinary(r.rng) // validated in decodeCounters
	m.contexts = r.contexts
	// Checked by decodeGDA against the same sizes, so it cannot fail.
	_ = m.opt.Restore(r.gda)
}

func clone(v []float64) []float64 { return append([]float64(nil), v...) }

// saveGDA writes the optimiser state under the "gda/" prefix.
func (m *Model) saveGDA(tensors map[string][]float64, meta map[string]string) {
	st := m.opt.State()
	tensors[prefixGDA+"leader_m"], tensors[prefixGDA+"leader_v"] = st.LeaderM, st.LeaderV
	tensors[prefixGDA+"follower_m"], tensors[prefixGDA+"follower_v"] = st.FollowerM, st.FollowerV
	meta[prefixGDA+"counters"] = fmt.Sprintf("%d %d %d", st.Step, st.LeaderT, st.FollowerT)
}

// decodeGDA reads and size-checks the optimiser state.
func (m *Model) decodeGDA(tensors map[string][]float64,
	meta map[string]string) (gda.State, error) {
	st := gda.State{
		LeaderM: tensors[prefixGDA+"leader_m"], LeaderV: tensors[prefixGDA+"leader_v"],
		FollowerM: tensors[prefixGDA+"follower_m"], FollowerV: tensors[prefixGDA+"follower_v"],
	}
	key := prefixGDA + "counters"
	_, err := fmt.Sscanf(meta[key], "%d %d %d", &st.Step, &st.LeaderT, &st.FollowerT)
	if err != nil {
		return st, fmt.Errorf("%w: meta %q: %w", ErrCheckpoint, key, err)
	}
	nT, nP := len(m.theta), len(m.phi)
	if len(st.LeaderM) != nT || len(st.LeaderV) != nT || len(st.FollowerM) != nP ||
		len(st.FollowerV) != nP || st.Step < 0 || st.LeaderT < 0 || st.FollowerT < 0 {
		return st, fmt.Errorf("%w: gda state does not match %d/%d parameters", ErrCheckpoint, nT, nP)
	}
	return st, nil
}
