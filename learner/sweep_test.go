package learner

import (
	"os"
	"testing"
)

func TestDevSweep(t *testing.T) {
	if os.Getenv("DEV_SWEEP") == "" {
		t.Skip()
	}
	type v struct {
		name string
		f    func(*Config)
	}
	for _, c := range []v{
		{"lr003", func(c *Config) { c.PrefLR = 0.003 }},
		{"lr005", func(c *Config) { c.PrefLR = 0.005 }},
		{"lr002", func(c *Config) { c.PrefLR = 0.002 }},
		{"lr003d01", func(c *Config) { c.PrefLR = 0.003; c.PrefDecay = 0.01 }},
		{"lr003d05", func(c *Config) { c.PrefLR = 0.003; c.PrefDecay = 0.05 }},
		{"lr003d2", func(c *Config) { c.PrefLR = 0.003; c.PrefDecay = 0.2 }},
		{"lr003r8", func(c *Config) { c.PrefLR = 0.003; c.PrefRank = 8 }},
	} {
		cfg := DefaultConfig()
		cfg.Autodiff = AutodiffPlain
		c.f(&cfg)
		r := meanDev(t, cfg, 5)
		t.Logf("%-14s prog acc %.3f loss %.4f | dev acc %.3f loss %.4f | win %.3f (n %.0f) "+
			"greedy %.3f (n %.0f) | steps %d", c.name, r.progAcc, r.progLoss, r.devAcc,
			r.devLoss, r.winRate, r.winN, r.greedyRate, r.greedyN, r.steps)
	}
}
