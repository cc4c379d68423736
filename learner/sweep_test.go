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
		{"lrL02", func(c *Config) { c.GDA.LRLeader = 0.02 }},
		{"lrL05", func(c *Config) { c.GDA.LRLeader = 0.05 }},
		{"lrL03r8", func(c *Config) { c.GDA.LRLeader = 0.03; c.PrefRank = 8 }},
		{"lrL03s2", func(c *Config) { c.GDA.LRLeader = 0.03; c.GameSteps = 2 }},
	} {
		cfg := DefaultConfig()
		cfg.Autodiff = AutodiffPlain
		cfg.PrefLR = 0.003
		c.f(&cfg)
		r := meanDev(t, cfg, 5)
		t.Logf("%-14s prog acc %.3f loss %.4f | dev acc %.3f loss %.4f | win %.3f (n %.0f) "+
			"greedy %.3f (n %.0f) | steps %d", c.name, r.progAcc, r.progLoss, r.devAcc,
			r.devLoss, r.winRate, r.winN, r.greedyRate, r.greedyN, r.steps)
	}
}
