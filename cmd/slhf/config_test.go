package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// hermetic blanks every SLHF_* variable of the caller's environment, so
// that a developer's settings cannot change what a test decodes.
func hermetic(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SLHF_") {
			t.Setenv(name, "")
		}
	}
}

func TestLoadGoodConfig(t *testing.T) {
	hermetic(t)
	o := globalOptions{configFile: "testdata/config/good.yaml"}
	cfg, err := o.load()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"role", cfg.Role, "learner"},
		{"brokers", len(cfg.Kafka.Brokers), 3},
		{"sasl", cfg.Kafka.SASL.Mechanism, "scram-sha-512"},
		{"feedback", cfg.Topics.Feedback, "prod.feedback"},
		{"responses default kept", cfg.Topics.Responses, "slhf.responses"},
		{"batch_wait", cfg.Stream.BatchWait, 500 * time.Millisecond},
		{"kappa", cfg.Learner.GDA.Kappa, 10.0},
		{"tau_follower", cfg.Learner.GDA.TauFollower, 0.01},
		{"hidden", cfg.Learner.Hidden, 64},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadBadConfig(t *testing.T) {
	hermetic(t)
	cases := map[string]string{
		"bad-unknown-key.yaml": "brokerz",
		"bad-kappa.yaml":       "kappa",
		"bad-duration.yaml":    "batch_wait",
		"bad-role.yaml":        "role",
	}
	for file, key := range cases {
		o := globalOptions{configFile: "testdata/config/" + file}
		_, err := o.load()
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ReplaceAll(key, "_", "")) &&
			!strings.Contains(err.Error(), key) {
			t.Errorf("%s: err = %v, want one naming %q", file, err, key)
		}
	}
}

func TestEnvAndFlagsOverride(t *testing.T) {
	hermetic(t)
	t.Setenv("SLHF_LEARNER_GDA_KAPPA", "7")
	t.Setenv("SLHF_KAFKA_BROKERS", "127.0.0.1:1,127.0.0.1:2")
	o := globalOptions{configFile: "testdata/config/good.yaml",
		sets: []string{"stream.batch_events=16"}}
	cfg, err := o.load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Learner.GDA.Kappa != 7 || len(cfg.Kafka.Brokers) != 2 || cfg.Stream.BatchEvents != 16 {
		t.Fatalf("kappa %v brokers %v batch %d: env and --set must win over the file",
			cfg.Learner.GDA.Kappa, cfg.Kafka.Brokers, cfg.Stream.BatchEvents)
	}
}

func TestUnknownEnvIsAnError(t *testing.T) {
	hermetic(t)
	t.Setenv("SLHF_KAFKA_BROKRS", "x:1")
	var o globalOptions
	if _, err := o.load(); err == nil || !strings.Contains(err.Error(), "SLHF_KAFKA_BROKRS") {
		t.Fatalf("err = %v, want one naming the variable", err)
	}
}

func TestSetUnknownKeyIsAnError(t *testing.T) {
	hermetic(t)
	o := globalOptions{sets: []string{"no.such.key=1"}}
	if _, err := o.load(); err == nil || !strings.Contains(err.Error(), "no.such.key") {
		t.Fatalf("err = %v, want one naming the key", err)
	}
}

func TestSecretsRedacted(t *testing.T) {
	hermetic(t)
	o := globalOptions{configFile: "testdata/config/good.yaml"}
	cfg, err := o.load()
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs([]string{"config", "--config", "testdata/config/good.yaml"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), cfg.Kafka.SASL.Password) {
		t.Fatal("slhf config printed the SASL password")
	}
	if !strings.Contains(out.String(), "kappa: 10") {
		t.Fatalf("printed config lacks the file's values:\n%s", out.String())
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"BatchEvents": "batch_events", "LRLeader": "lr_leader", "GDA": "gda",
		"JSONL": "jsonl", "TauFollower": "tau_follower", "ClientID": "client_id",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
