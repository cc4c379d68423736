package sinks

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/slhf-dev/slhf/internal/kafkax"
)

// testCluster starts an embedded broker on 127.0.0.1 with the given
// topics (one partition each unless the spec says otherwise).
func testCluster(t *testing.T, topics ...kafkax.TopicSpec) (*kfake.Cluster, kafkax.Config) {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.Ports(0))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(kc.Close)
	cfg := kafkax.Config{Brokers: kc.ListenAddrs(), ClientID: "slhf-sinks-test"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafkax.EnsureTopics(ctx, cfg, topics...); err != nil {
		t.Fatalf("create topics: %v", err)
	}
	return kc, cfg
}

// readAll reads every message of partition 0 of topic.
func readAll(t *testing.T, cfg kafkax.Config, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := cfg.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.DialLeader(ctx, "tcp", cfg.Brokers[0], topic, 0)
	if err != nil {
		t.Fatalf("dial leader: %v", err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil || last == 0 {
		return nil
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	batch := conn.ReadBatch(1, 64<<20)
	defer batch.Close()
	var out []kafka.Message
	for int64(len(out)) < last {
		m, err := batch.ReadMessage()
		if err != nil {
			t.Fatalf("read message %d of %d: %v", len(out), last, err)
		}
		out = append(out, m)
	}
	return out
}

func highWatermark(kc *kfake.Cluster, topic string) int64 {
	return kc.PartitionInfo(topic, 0).HighWatermark
}

func newTestWriter(t *testing.T, cfg kafkax.Config, topic string,
	opts ...KafkaOption) *KafkaWriter {
	t.Helper()
	w, err := NewKafkaWriter(cfg, topic, opts...)
	if err != nil {
		t.Fatalf("NewKafkaWriter: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestKafkaWriterRoundTrip(t *testing.T) {
	_, cfg := testCluster(t, kafkax.TopicSpec{Name: "out"}, kafkax.TopicSpec{Name: "other"})
	reg := prometheus.NewRegistry()
	w := newTestWriter(t, cfg, "out", WithRegisterer(reg), WithName("refined"))
	msgs := []Message{
		{Key: []byte("k1"), Value: []byte("v1"), Headers: []Header{{"h", []byte("x")}}},
		{Key: nil, Value: []byte("v2")},
		{Topic: "other", Key: []byte("k3"), Value: []byte("v3")},
	}
	if err := w.Write(context.Background(), msgs...); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	got := readAll(t, cfg, "out")
	if len(got) != 2 {
		t.Fatalf("read %d messages from out, want 2", len(got))
	}
	if string(got[0].Key) != "k1" || string(got[0].Value) != "v1" ||
		len(got[0].Headers) != 1 || string(got[0].Headers[0].Value) != "x" {
		t.Errorf("message 0 = %+v", got[0])
	}
	if got[1].Key != nil || string(got[1].Value) != "v2" {
		t.Errorf("message 1 = key %q value %q, want null key and v2", got[1].Key, got[1].Value)
	}
	if other := readAll(t, cfg, "other"); len(other) != 1 || string(other[0].Key) != "k3" {
		t.Errorf("topic override: read %+v from other", other)
	}
	if n := metricValue(t, w.obs.written); n != 3 {
		t.Errorf("slhf_sink_written_total{sink=refined} = %v, want 3", n)
	}
}

// TestKafkaWriterBrokerRejects is the trap kafka-go's default acks hide: a
// message the broker refuses must come back as an error.
func TestKafkaWriterBrokerRejects(t *testing.T) {
	spec := kafkax.TopicSpec{Name: "small", Configs: map[string]string{"max.message.bytes": "1000"}}
	kc, cfg := testCluster(t, spec)
	// The writer is deliberately misaligned with the topic (1 MiB > 1000).
	w := newTestWriter(t, cfg, "small", WithRetry(3, time.Millisecond, time.Millisecond))
	err := w.Write(context.Background(), Message{Value: bytes.Repeat([]byte("a"), 5000)})
	if !errors.Is(err, kafka.MessageSizeTooLarge) {
		t.Fatalf("Write(5000 B to a 1000 B topic) = %v, want MessageSizeTooLarge", err)
	}
	if !strings.Contains(err.Error(), "after 1 attempts") {
		t.Errorf("a size rejection is final, yet: %v", err)
	}
	if hw := highWatermark(kc, "small"); hw != 0 {
		t.Errorf("high watermark = %d, want 0", hw)
	}
	if n := metricValue(t, w.obs.errors); n != 1 {
		t.Errorf("write errors = %v, want 1", n)
	}
}

func TestKafkaWriterSizePrecheck(t *testing.T) {
	const limit = 1000
	spec := kafkax.TopicSpec{Name: "small", Configs: map[string]string{"max.message.bytes": "1000"}}
	kc, cfg := testCluster(t, spec)
	w := newTestWriter(t, cfg, "small", WithMaxMessageBytes(limit))

	// The largest value the pre-check lets through must be accepted by a
	// broker with the same limit: the estimate is an upper bound.
	key, hdr := []byte("request-1"), []Header{{"slhf.rows", []byte("12")}}
	n := 0
	for recordBatchBytes(Message{Key: key, Value: make([]byte, n+1), Headers: hdr}) <= limit {
		n++
	}
	fits := Message{Key: key, Value: bytes.Repeat([]byte("f"), n), Headers: hdr}
	if err := w.Write(context.Background(), fits); err != nil {
		t.Fatalf("Write(%d B value at the limit) = %v", n, err)
	}

	tooBig := fits
	tooBig.Value = append(bytes.Clone(fits.Value), 'x')
	err := w.Write(context.Background(), fits, tooBig)
	var mtl *MessageTooLargeError
	if !errors.Is(err, ErrMessageTooLarge) || !errors.As(err, &mtl) || mtl.Index != 1 ||
		mtl.Limit != limit {
		t.Fatalf("Write(one byte over) = %v, want *MessageTooLargeError at index 1", err)
	}
	if hw := highWatermark(kc, "small"); hw != 1 {
		t.Errorf("high watermark = %d, want 1: a failed pre-check must send nothing", hw)
	}
}

func TestKafkaWriterRetries(t *testing.T) {
	tests := []struct {
		name      string
		faults    int // produce requests failed with NOT_ENOUGH_REPLICAS; -1 = all
		attempts  int
		wantErr   bool
		wantHW    int64
		wantFault int
	}{
		{"recovers after two rejections", 2, 5, false, 1, 2},
		{"gives up after the attempts", -1, 3, true, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc, cfg := testCluster(t, kafkax.TopicSpec{Name: "out"})
			h := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out",
				Err: kerr.NotEnoughReplicas, Count: tt.faults})
			defer h.Remove()
			w := newTestWriter(t, cfg, "out",
				WithRetry(tt.attempts, time.Millisecond, 4*time.Millisecond))
			err := w.Write(context.Background(), Message{Key: []byte("k"), Value: []byte("v")})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Write() = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, kafka.NotEnoughReplicas) {
				t.Errorf("Write() = %v, want it to wrap NotEnoughReplicas", err)
			}
			if hw := highWatermark(kc, "out"); hw != tt.wantHW {
				t.Errorf("high watermark = %d, want %d", hw, tt.wantHW)
			}
			if hits := h.Hits(); hits != tt.wantFault {
				t.Errorf("faulted produce requests = %d, want %d", hits, tt.wantFault)
			}
		})
	}
}

func TestKafkaWriterRetriesStopWithContext(t *testing.T) {
	kc, cfg := testCluster(t, kafkax.TopicSpec{Name: "out"})
	h := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out",
		Err: kerr.NotEnoughReplicas, Count: -1})
	defer h.Remove()
	w := newTestWriter(t, cfg, "out", WithRetry(1000, 20*time.Millisecond, 20*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Write(ctx, Message{Value: []byte("v")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write() = %v, want the context's deadline", err)
	}
	if hits := h.Hits(); hits >= 1000 || hits < 2 {
		t.Errorf("faulted produce requests = %d, want a few retries cut short by ctx", hits)
	}
}

func TestKafkaWriterClose(t *testing.T) {
	_, cfg := testCluster(t, kafkax.TopicSpec{Name: "out"})
	w := newTestWriter(t, cfg, "out")
	if err := w.Write(context.Background(), Message{Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := w.Close(); err != nil {
			t.Fatalf("Close() #%d = %v", i+1, err)
		}
	}
	if err := w.Write(context.Background(), Message{Value: []byte("v")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestKafkaWriterOptionsValidated(t *testing.T) {
	cfg := kafkax.Config{Brokers: []string{"127.0.0.1:1"}}
	bad := map[string]KafkaOption{
		"tiny max bytes": WithMaxMessageBytes(10),
		"zero attempts":  WithRetry(-1, time.Millisecond, time.Second),
		"min over max":   WithRetry(3, time.Second, time.Millisecond),
	}
	for name, opt := range bad {
		if _, err := NewKafkaWriter(cfg, "t", opt); err == nil {
			t.Errorf("%s: NewKafkaWriter() = nil error", name)
		}
	}
	if _, err := NewKafkaWriter(kafkax.Config{}, "t"); !errors.Is(err, kafkax.ErrNoBrokers) {
		t.Errorf("no brokers: NewKafkaWriter() = %v, want ErrNoBrokers", err)
	}
}

// BenchmarkKafkaWriterWrite measures one synchronous single-message
// write against the embedded broker. With kafka-go's default 1 s batch
// timeout this took a second per call; with ours it should take a few ms.
func BenchmarkKafkaWriterWrite(b *testing.B) {
	kc, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(1, "out"))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	w, err := NewKafkaWriter(kafkax.Config{Brokers: kc.ListenAddrs()}, "out")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	msg := Message{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 1024)}
	for b.Loop() {
		if err := w.Write(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKafkaWriterCloseIsBounded reproduces kafka-go #1307: Close waits
// for in-flight produce requests, here one the broker never answers.
func TestKafkaWriterCloseIsBounded(t *testing.T) {
	kc, cfg := testCluster(t, kafkax.TopicSpec{Name: "out"})
	seen := make(chan struct{}, 1)
	kc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		select {
		case seen <- struct{}{}:
		default:
		}
		return nil, nil, true // swallowed: no answer ever comes
	})
	w, err := NewKafkaWriter(cfg, "out", WithCloseTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	writeErr := make(chan error, 1)
	go func() { writeErr <- w.Write(ctx, Message{Value: []byte("v")}) }()
	<-seen

	first, second := w.Close(), w.Close()
	if !errors.Is(first, ErrCloseTimeout) || first != second {
		t.Fatalf("Close() = %v then %v, want ErrCloseTimeout twice", first, second)
	}
	if err := <-writeErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("in-flight Write = %v, want its context deadline", err)
	}
}
