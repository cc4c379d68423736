package learner

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the learner's Prometheus series, registered on the injected
// Registerer (nil: built but not registered).
type metrics struct {
	events      prometheus.Counter
	steps       prometheus.Counter
	stepSeconds prometheus.Histogram
	accuracy    prometheus.Gauge
	logLoss     prometheus.Gauge
	objective   prometheus.Gauge
	payoff      prometheus.Gauge
	entropy     *prometheus.GaugeVec // by player
	kl          *prometheus.GaugeVec // by player
	version     prometheus.Gauge
	contexts    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	m := &metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slhf_learner_events_total", Help: "Preference events learned."}),
		steps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slhf_learner_gda_steps_total", Help: "StackelbergGDA steps taken."}),
		stepSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "slhf_learner_step_duration_seconds",
			Help:    "Wall time of one Learn call (one micro-batch).",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2.5, 12)}),
		accuracy: gauge("slhf_learner_preference_accuracy_ratio",
			"Progressive-validation accuracy of the preference model on non-tie events."),
		logLoss: gauge("slhf_learner_preference_log_loss_nats",
			"Progressive-validation mean log-loss of the preference model."),
		objective: gauge("slhf_learner_objective",
			"SLHF objective f of the last GDA step (Leader ascends, Follower descends)."),
		payoff: gauge("slhf_learner_leader_survival_ratio",
			"E[p(y ≻ y')] at the last GDA step: the Leader's chance to survive refinement."),
		entropy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slhf_learner_policy_entropy_nats",
			Help: "Mean policy entropy at the last GDA step."}, []string{"player"}),
		kl: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slhf_learner_policy_kl_nats",
			Help: "Mean KL divergence from the reference at the last GDA step."},
			[]string{"player"}),
		version:  gauge("slhf_learner_model_version", "GDA step of the current weights."),
		contexts: gauge("slhf_learner_contexts", "Prompts held in the context cache."),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.steps, m.stepSeconds, m.accuracy,
		m.logLoss, m.objective, m.payoff, m.entropy, m.kl, m.version, m.contexts} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register learner metrics: %w", err)
		}
	}
	return m, nil
}
