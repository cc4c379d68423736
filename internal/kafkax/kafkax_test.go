package kafkax

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// newCluster starts an embedded broker on 127.0.0.1 and returns a Config
// pointing at it.
func newCluster(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, Config) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.Ports(0)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, Config{Brokers: c.ListenAddrs(), ClientID: "slhf-test", DialTimeout: 2 * time.Second}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means valid
	}{
		{"zero value means no cluster", Config{}, ""},
		{"plain brokers", Config{Brokers: []string{"127.0.0.1:9092", "[::1]:9093"}}, ""},
		{"missing port", Config{Brokers: []string{"localhost"}}, "missing port"},
		{"empty host", Config{Brokers: []string{":9092"}}, "want host:port"},
		{"negative timeout", Config{DialTimeout: -time.Second}, "negative"},
		{"cert without key", Config{TLS: TLSConfig{Enable: true, CertFile: "c.pem"}},
			"set together"},
		{"cert without key but tls off", Config{TLS: TLSConfig{CertFile: "c.pem"}}, ""},
		{"unknown mechanism", Config{SASL: SASLConfig{Mechanism: "gssapi", Username: "u",
			Password: "p"}}, "unknown mechanism"},
		{"missing password", Config{SASL: SASLConfig{Mechanism: "plain", Username: "u"}},
			"username and password"},
		{"scram upper case", Config{SASL: SASLConfig{Mechanism: "SCRAM-SHA-512",
			Username: "u", Password: "p"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:9092"},
		SASL: SASLConfig{Mechanism: "plain", Username: "alice", Password: "hunter2"}}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{"String": cfg.String(), "json": string(b),
		"%+v": fmt.Sprintf("%+v", cfg), "sasl %v": fmt.Sprintf("%v", cfg.SASL)}
	for name, s := range shown {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%s leaks the password: %s", name, s)
		}
		if !strings.Contains(s, "alice") || !strings.Contains(s, redacted) {
			t.Errorf("%s = %s, want the username and %q", name, s, redacted)
		}
	}
}

func TestBuildersNeedBrokers(t *testing.T) {
	if _, err := (Config{}).Dialer(); !errors.Is(err, ErrNoBrokers) {
		t.Errorf("Dialer() error = %v, want ErrNoBrokers", err)
	}
	if _, err := (Config{}).Transport(); !errors.Is(err, ErrNoBrokers) {
		t.Errorf("Transport() error = %v, want ErrNoBrokers", err)
	}
	if err := WaitReady(context.Background(), Config{}); !errors.Is(err, ErrNoBrokers) {
		t.Errorf("WaitReady() error = %v, want ErrNoBrokers", err)
	}
}

func TestTransportIsNewEachCall(t *testing.T) {
	cfg := Config{Brokers: []string{"127.0.0.1:1"}}
	a, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cfg.Transport()
	if a == b || a == kafka.DefaultTransport {
		t.Fatal("Transport() must return a fresh transport each call")
	}
}

func TestTLSFiles(t *testing.T) {
	tests := []struct {
		name    string
		tls     TLSConfig
		wantErr string
	}{
		{"system roots", TLSConfig{Enable: true, ServerName: "kafka"}, ""},
		{"missing ca file", TLSConfig{Enable: true, CAFile: "testdata/nope.pem"}, "read ca file"},
		{"ca file without pem", TLSConfig{Enable: true, CAFile: "testdata/not-pem.txt"},
			"no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Brokers: []string{"127.0.0.1:9092"}, TLS: tt.tls}
			d, err := cfg.Dialer()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dialer() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || d.TLS == nil || d.TLS.ServerName != "kafka" {
				t.Fatalf("Dialer() = %+v, %v; want TLS with server name", d, err)
			}
		})
	}
}

func TestWaitReady(t *testing.T) {
	_, cfg := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := WaitReady(ctx, cfg); err != nil {
		t.Fatalf("WaitReady() = %v", err)
	}
}

func TestWaitReadyGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: every dial is refused

	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	err = WaitReady(ctx, Config{Brokers: []string{addr}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady() = %v, want a deadline error", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("WaitReady() = %v, want the last dial error kept", err)
	}
}

func TestSASL(t *testing.T) {
	tests := []struct {
		mech, user, pass string
		wantOK           bool
	}{
		{"plain", "admin", "s3cret", true},
		{"scram-sha-256", "admin", "s3cret", true},
		{"scram-sha-512", "admin", "s3cret", true},
		{"scram-sha-512", "admin", "wrong", false},
	}
	_, base := newCluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "admin", "s3cret"),
		kfake.Superuser("SCRAM-SHA-256", "admin", "s3cret"),
		kfake.Superuser("SCRAM-SHA-512", "admin", "s3cret"))
	for _, tt := range tests {
		t.Run(tt.mech+"/"+tt.pass, func(t *testing.T) {
			cfg := base
			cfg.SASL = SASLConfig{Mechanism: tt.mech, Username: tt.user, Password: tt.pass}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := WaitReady(ctx, cfg)
			if (err == nil) != tt.wantOK {
				t.Fatalf("WaitReady() = %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
}

func TestEnsureTopics(t *testing.T) {
	kc, cfg := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	specs := []TopicSpec{
		{Name: "feedback", Partitions: 3},
		{Name: "dead", Configs: map[string]string{"max.message.bytes": "2048"}},
	}
	for round := range 2 { // the second round proves idempotence
		if err := EnsureTopics(ctx, cfg, specs...); err != nil {
			t.Fatalf("round %d: EnsureTopics() = %v", round, err)
		}
	}
	if got := len(kc.PartitionInfos("feedback")); got != 3 {
		t.Errorf("feedback has %d partitions, want 3", got)
	}
	if got := len(kc.PartitionInfos("dead")); got != 1 {
		t.Errorf("dead has %d partitions, want the default 1", got)
	}
	// An existing topic is left alone, even when the spec differs.
	if err := EnsureTopics(ctx, cfg, TopicSpec{Name: "feedback", Partitions: 1}); err != nil {
		t.Fatalf("EnsureTopics(existing) = %v", err)
	}
	if got := len(kc.PartitionInfos("feedback")); got != 3 {
		t.Errorf("feedback has %d partitions after re-ensure, want 3", got)
	}
}

func TestEnsureTopicsRejects(t *testing.T) {
	_, cfg := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, cfg, TopicSpec{}); err == nil {
		t.Error("EnsureTopics(empty name) = nil, want error")
	}
	bad := TopicSpec{Name: "bad", ReplicationFactor: 3} // one broker cannot hold 3 replicas
	err := EnsureTopics(ctx, cfg, bad)
	if !errors.Is(err, kafka.InvalidReplicationFactor) {
		t.Errorf("EnsureTopics(3 replicas on 1 broker) = %v, want InvalidReplicationFactor", err)
	}
}
