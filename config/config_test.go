package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if !c.UsesEmbeddedBroker() || !c.Learns() || !c.Refines() {
		t.Fatal("default: embedded broker, learning and refining expected")
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	c := Default()
	c.Role = "leader"
	c.Kafka.Brokers = []string{"no-port"}
	c.Kafka.MaxWait = 100 * time.Millisecond
	c.Topics.Refined = c.Topics.Feedback
	c.Stream.BatchEvents = 0
	c.Embedded.HoldoutShare = 1
	err := c.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, key := range []string{"role", "kafka.brokers", "kafka.max_wait", "same topic",
		"stream.batch_events", "embedded.holdout_share"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %q:\n%v", key, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Default(), Default()
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("equal configs, different fingerprints")
	}
	b.Stream.BatchEvents++ // operational: same model lineage
	b.Metrics.Listen = "127.0.0.1:1"
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("operational settings must not change the lineage")
	}
	b.Learner.Hidden++
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("a learner change must change the fingerprint")
	}
	c := Default()
	c.Topics.Feedback = "other"
	if a.Fingerprint() == c.Fingerprint() {
		t.Fatal("another feedback topic is another lineage")
	}
}

func TestRedacted(t *testing.T) {
	c := Default()
	c.Kafka.SASL.Password = "s3cret"
	r := c.Redacted()
	if r.Kafka.SASL.Password == "s3cret" || c.Kafka.SASL.Password != "s3cret" {
		t.Fatal("Redacted must hide the password in the copy only")
	}
}
