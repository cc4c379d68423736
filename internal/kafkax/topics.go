package kafkax

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultReadyTimeout bounds [WaitReady] and the metadata wait of
// [EnsureTopics] when the context has no deadline of its own.
const DefaultReadyTimeout = 30 * time.Second

// Backoff between metadata polls: it starts at backoffMin and doubles up
// to backoffMax.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

// TopicSpec describes a topic for [EnsureTopics].
type TopicSpec struct {
	// Name is the topic name; required.
	Name string
	// Partitions is the partition count; zero means 1.
	Partitions int
	// ReplicationFactor is the replica count; zero means 1, which suits a
	// single local broker. Use 3 on a production cluster.
	ReplicationFactor int
	// Configs are topic-level settings such as "max.message.bytes" or
	// "cleanup.policy"; nil means the broker defaults. They only apply
	// when the topic is created: an existing topic is left as it is.
	Configs map[string]string
}

func (s TopicSpec) partitions() int { return max(s.Partitions, 1) }

func (s TopicSpec) topicConfig() kafka.TopicConfig {
	tc := kafka.TopicConfig{
		Topic:             s.Name,
		NumPartitions:     s.partitions(),
		ReplicationFactor: max(s.ReplicationFactor, 1),
	}
	keys := make([]string, 0, len(s.Configs))
	for k := range s.Configs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		tc.ConfigEntries = append(tc.ConfigEntries,
			kafka.ConfigEntry{ConfigName: k, ConfigValue: s.Configs[k]})
	}
	return tc
}

// EnsureTopics creates every topic in topics that does not exist yet and
// waits until cluster metadata shows all partitions of every topic with a
// leader. It is idempotent: an existing topic is not an error, and it is
// not altered, even if its partition count or configs differ from the
// spec. Without a context deadline the wait is bounded by
// [DefaultReadyTimeout].
func EnsureTopics(ctx context.Context, c Config, topics ...TopicSpec) error {
	if len(topics) == 0 {
		return nil
	}
	for _, t := range topics {
		if t.Name == "" {
			return errors.New("ensure topics: empty topic name")
		}
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := createTopics(ctx, c, topics); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	if err := waitPartitions(ctx, c, topics); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	return nil
}

// createTopics sends one CreateTopics request through a fresh transport
// (the request must reach the controller, which the transport finds).
func createTopics(ctx context.Context, c Config, topics []TopicSpec) error {
	tr, err := c.Transport()
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()

	req := &kafka.CreateTopicsRequest{Addr: c.Addr()}
	for _, t := range topics {
		req.Topics = append(req.Topics, t.topicConfig())
	}
	client := &kafka.Client{Addr: c.Addr(), Transport: tr}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// waitPartitions polls metadata on a direct connection until every topic
// shows at least its wanted partitions, each with a leader. A direct
// connection is used because a transport answers metadata from its cache.
func waitPartitions(ctx context.Context, c Config, topics []TopicSpec) error {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	return retry(ctx, func() error {
		parts, err := readPartitions(ctx, c, names)
		if err != nil {
			return err
		}
		return missingPartitions(topics, parts)
	})
}

func missingPartitions(topics []TopicSpec, parts []kafka.Partition) error {
	led := make(map[string]int)
	for _, p := range parts {
		if p.Leader.Host != "" {
			led[p.Topic]++
		}
	}
	for _, t := range topics {
		if led[t.Name] < t.partitions() {
			return fmt.Errorf("topic %q: %d of %d partitions have a leader",
				t.Name, led[t.Name], t.partitions())
		}
	}
	return nil
}

// WaitReady waits until some broker of c answers a metadata request,
// retrying with exponential backoff (50 ms doubling to 2 s). It returns
// the last error, wrapped, when ctx ends; without a context deadline it
// gives up after [DefaultReadyTimeout].
func WaitReady(ctx context.Context, c Config) error {
	if !c.Configured() {
		return ErrNoBrokers
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	err := retry(ctx, func() error {
		_, err := readPartitions(ctx, c, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for kafka: %w", err)
	}
	return nil
}

// readPartitions asks the first broker that answers for the partitions of
// topics; nil topics means every topic.
func readPartitions(ctx context.Context, c Config, topics []string) ([]kafka.Partition, error) {
	d, err := c.Dialer()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, b := range c.Brokers {
		parts, err := readPartitionsFrom(ctx, d, b, topics)
		if err == nil {
			return parts, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func readPartitionsFrom(ctx context.Context, d *kafka.Dialer, broker string,
	topics []string) ([]kafka.Partition, error) {
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, err
		}
	}
	return conn.ReadPartitions(topics...)
}

// retry calls op until it succeeds or ctx ends, sleeping with exponential
// backoff between calls. On ctx end it returns the last error of op
// joined with the context error.
func retry(ctx context.Context, op func() error) error {
	wait := backoffMin
	for {
		err := op()
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, backoffMax)
	}
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultReadyTimeout)
}
