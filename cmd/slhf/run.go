package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/slhf-dev/slhf/internal/app"
)

func newRunCmd(o *globalOptions) *cobra.Command {
	var summaryPath string
	var bundled bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run every stage: learn from feedback, refine responses, serve metrics",
		Long: "With brokers configured, run until SIGINT/SIGTERM, then drain, checkpoint,\n" +
			"commit and exit. With none, start an embedded broker on 127.0.0.1, replay the\n" +
			"bundled real data (HH-RLHF and PandaLM), run until drained and print a summary.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load()
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log)
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(),
				collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			opts := app.Options{Logger: logger, Registry: reg}
			if !cfg.UsesEmbeddedBroker() && !bundled {
				rep, err := app.Run(cmd.Context(), cfg, opts)
				logger.Info("stopped", "learned", rep.Learn.Learned,
					"checkpoints", rep.Learn.Checkpoints, "refined", rep.Refine.Refined,
					"dead_lettered", rep.DeadLettered)
				return err
			}
			sum, err := app.RunBundled(cmd.Context(), cfg, app.EmbeddedOptions{Options: opts})
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), sum)
			if summaryPath != "" {
				return writeJSON(summaryPath, sum)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&summaryPath, "summary-json", "", "also write the summary as JSON here")
	cmd.Flags().BoolVar(&bundled, "bundled", false, "with brokers: replay the bundled data into "+
		"the configured topics, run until drained and print the summary")
	return cmd
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func printSummary(w io.Writer, s app.Summary) {
	p := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-28s "+format+"\n", append([]any{label}, args...)...)
	}
	fmt.Fprintf(w, "slhf run summary (bundled HH-RLHF + PandaLM, brokers %s)\n",
		strings.Join(s.Brokers, ","))
	p("feedback events", "%d in %d messages", s.FeedbackEvents, s.FeedbackMessages)
	p("learned events", "%d (duplicates dropped: %d)", s.LearnedEvents, s.DuplicateEvents)
	p("dead-lettered messages", "%s", reasons(s.DeadLettered))
	p("learner steps", "%d, model version %d", s.LearnerSteps, s.ModelVersion)
	p("checkpoints", "%d in %s", s.Checkpoints, s.CheckpointDir)
	p("preference accuracy", "%.3f on %d non-tie events (predicted before each update)",
		s.PrefAccuracy, s.PrefAccuracyN)
	p("preference log-loss", "%.4f (log 2 = 0.6931 is chance)", s.PrefLogLoss)
	p("responses refined", "%d of %d sent, %d changed, %.2f rounds on average",
		s.Refined, s.Responses, s.RefinedChanged, s.MeanRounds)
	p("refined win rate", "%.3f over %d changed answers judged by held-out humans",
		s.RefinedWinRate, s.RefinedWinRateN)
	p("random-switch baseline", "%.3f over %d judged pairs", s.RandomWinRate, s.RandomWinRateN)
	p("held-out prompts", "%d (PandaLM)", s.HoldoutPrompts)
	p("wall time", "%.1f s", s.WallSeconds)
}

func reasons(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	total := 0
	for k, v := range m {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}
