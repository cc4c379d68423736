package app

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/slhf-dev/slhf/config"
	"github.com/slhf-dev/slhf/internal/testkit"
)

// testConfig is the default configuration with every file under t's temp
// dir, fast batching and no metrics listener.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	testkit.UnderTempDir(t, &cfg)
	cfg.Stream.BatchWait = 50 * time.Millisecond
	cfg.Embedded.RowsPerMessage = 32
	cfg.Stream.BatchEvents = 32
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}
