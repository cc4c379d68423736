package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/testkit"
)

// Environment the test script provides.
const (
	envBrokers = "SLHF_KAFKA_BROKERS"  // bootstrap address of the real broker
	envLog     = "SLHF_KAFKA_LOG"      // its log file, named in failures
	envDataDir = "SLHF_KAFKA_DATA_DIR" // its data dir, for broker.sh restart
	envVersion = "SLHF_KAFKA_VERSION"  // its version, for the record
	envPython  = "SLHF_PYTHON"         // a python with pyarrow and confluent-kafka
)

// brokers returns the real broker's address or skips the test.
func brokers(t *testing.T) []string {
	t.Helper()
	b := os.Getenv(envBrokers)
	if b == "" {
		t.Skipf("integration test: set %s to a real Kafka broker (scripts/test.sh does)", envBrokers)
	}
	return strings.Split(b, ",")
}

// fatalf fails the test and points at the broker log.
func fatalf(t *testing.T, format string, args ...any) {
	t.Helper()
	onBroker(t).Fatalf(format, args...)
}

// brokerTB is a testing.TB whose Fatalf points at the broker log, for
// the shared helpers of internal/testkit.
type brokerTB struct{ testing.TB }

// onBroker wraps tb so that its fatal failures name the broker log.
func onBroker(tb testing.TB) brokerTB { return brokerTB{tb} }

// Fatalf fails the test with the message, the broker version and its log.
func (b brokerTB) Fatalf(format string, args ...any) {
	b.TB.Helper()
	b.TB.Fatalf(format+"\n(broker %s, log: %s)", append(args, os.Getenv(envVersion),
		os.Getenv(envLog))...)
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// testConfig returns a configuration on the real broker with topics no
// other test uses and every file under t's temp dir.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers(t)
	name := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "-"))
	prefix := fmt.Sprintf("it-%s-%d", strings.Trim(name, "-"), time.Now().UnixNano()%1e9)
	cfg.Topics.Feedback = prefix + ".feedback"
	cfg.Topics.Responses = prefix + ".responses"
	cfg.Topics.Refined = prefix + ".refined"
	cfg.Topics.DeadLetter = prefix + ".dead-letter"
	cfg.Kafka.GroupID = prefix
	testkit.UnderTempDir(t, &cfg)
	cfg.Stream.BatchWait = 50 * time.Millisecond
	return cfg
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// slhfBinary builds cmd/slhf once per test process and returns its path.
func slhfBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "slhf-it-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "slhf")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/slhf").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// brokerScript runs scripts/kafka/broker.sh with the given subcommand on
// the test broker's data dir (restart, kill, stop, status).
func brokerScript(t *testing.T, sub string) {
	t.Helper()
	dir := os.Getenv(envDataDir)
	if dir == "" {
		t.Skipf("needs %s to control the broker", envDataDir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "../scripts/kafka/broker.sh", sub, dir).CombinedOutput()
	if err != nil {
		fatalf(t, "broker.sh %s: %v\n%s", sub, err, out)
	}
}
