package learner

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"column", func(c *Config) { c.Encoder = EncoderColumn }, ""},
		{"bt only", func(c *Config) { c.PrefRank = 0 }, ""},
		{"encoder", func(c *Config) { c.Encoder = "http" }, "encoder"},
		{"dim", func(c *Config) { c.Dim = 0 }, "dim"},
		{"hidden", func(c *Config) { c.Hidden = -1 }, "hidden"},
		{"rank", func(c *Config) { c.PrefRank = -1 }, "pref_rank"},
		{"lr", func(c *Config) { c.PrefLR = 0 }, "pref_lr"},
		{"gda", func(c *Config) { c.GDA.Kappa = 1 }, "gda"},
		{"payoff", func(c *Config) { c.Payoff = "judge" }, "payoff"},
		{"labels", func(c *Config) { c.Payoff, c.GDA.Estimator = PayoffLabels, "sampled" }, ""},
		{"labels exact", func(c *Config) { c.Payoff = PayoffLabels }, "estimator"},
		{"model sampled", func(c *Config) { c.GDA.Estimator = "sampled" }, "estimator"},
		{"candidates", func(c *Config) { c.MaxCandidates = 1 }, "max_candidates"},
		{"cache", func(c *Config) { c.ContextCache = 0 }, "context_cache"},
		{"autodiff", func(c *Config) { c.Autodiff = "torch" }, "autodiff"},
		{"decay", func(c *Config) { c.PrefDecay = -1 }, "pref_decay"},
		{"decay too big", func(c *Config) { c.PrefDecay = 1 / c.PrefLR }, "pref_decay"},
		{"game steps", func(c *Config) { c.GameSteps = 0 }, "game_steps"},
		{"replay", func(c *Config) { c.ReplayContexts = -1 }, "replay_contexts"},
		{"replay on", func(c *Config) { c.GameSteps, c.ReplayContexts = 3, 16 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestConfigFingerprint(t *testing.T) {
	base := DefaultConfig().Fingerprint()
	if len(base) != 24 || base != DefaultConfig().Fingerprint() {
		t.Fatalf("fingerprint %q is not a stable 24-digit hex string", base)
	}
	tests := []struct {
		name string
		edit func(*Config)
		same bool
	}{
		{"autodiff", func(c *Config) { c.Autodiff = AutodiffPlain }, true},
		{"dim", func(c *Config) { c.Dim++ }, false},
		{"seed", func(c *Config) { c.Seed++ }, false},
		{"payoff", func(c *Config) { c.Payoff, c.GDA.Estimator = PayoffLabels, "sampled" }, false},
		{"gda tau", func(c *Config) { c.GDA.TauFollower *= 2 }, false},
		{"candidates", func(c *Config) { c.MaxCandidates++ }, false},
		{"decay", func(c *Config) { c.PrefDecay = 0.1 }, false},
		{"game steps", func(c *Config) { c.GameSteps++ }, false},
		{"replay", func(c *Config) { c.ReplayContexts++ }, false},
		{"payoff input", func(c *Config) { c.FollowerPayoffInput = false }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			if got := c.Fingerprint() == base; got != tt.same {
				t.Fatalf("fingerprint unchanged = %v, want %v", got, tt.same)
			}
		})
	}
}
