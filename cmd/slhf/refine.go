package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/slhf-dev/slhf/learner"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/schemas/datasets"
	"github.com/slhf-dev/slhf/sinks"
	"github.com/slhf-dev/slhf/stream"
)

type refineOptions struct {
	in     string
	format string
	path   string
	out    string
	rounds int
	stderr io.Writer
}

func newRefineCmd(o *globalOptions) *cobra.Command {
	var r refineOptions
	cmd := &cobra.Command{
		Use:   "refine (--in FILE | --format NAME --path FILE) [--out FILE]",
		Short: "Refine responses from a file once, with the newest checkpoint's Follower",
		Long: "Loads the newest valid checkpoint from checkpoint.dir, refines every response\n" +
			"(an Arrow IPC stream of response.v1, or a dataset with --format/--path)\n" +
			"and writes refined.v1 rows as JSON lines. Responses come from the arena,\n" +
			"alpaca-eval and vicuna-bench formats; empty source answers are skipped.\n\n" +
			pathHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load()
			if err != nil {
				return err
			}
			snap, err := loadSnapshot(cfg.Learner, cfg.Checkpoint.Dir)
			if err != nil {
				return err
			}
			r.stderr = cmd.ErrOrStderr()
			rows, err := r.read()
			if err != nil {
				return err
			}
			return r.write(cmd, snap, rows, cfg.Refine.MaxRounds)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.in, "in", "", "Arrow IPC stream file of response.v1 records")
	f.StringVar(&r.format, "format", "", "dataset format instead of --in: "+formatNames())
	f.StringVar(&r.path, "path", "", "dataset file or folder, with --format")
	f.StringVar(&r.out, "out", "", "JSON-lines output file (default stdout)")
	f.IntVar(&r.rounds, "rounds", 0, "Follower rounds (default refine.max_rounds)")
	return cmd
}

// loadSnapshot builds a model from the newest valid checkpoint.
func loadSnapshot(cfg learner.Config, dir string) (*learner.Snapshot, error) {
	store, err := sinks.OpenCheckpointReader(dir, nil, nil)
	if err != nil {
		return nil, err
	}
	ckp, err := store.LoadLatest()
	if err != nil {
		return nil, fmt.Errorf("load checkpoint from %s: %w", dir, err)
	}
	m, err := learner.New(cfg, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := m.Restore(ckp.Tensors, ckp.Meta); err != nil {
		return nil, fmt.Errorf("restore checkpoint step %d: %w", ckp.Step, err)
	}
	return m.Snapshot(), nil
}

func (r *refineOptions) read() ([]schemas.Response, error) {
	switch {
	case r.in != "" && r.format == "":
		b, err := os.ReadFile(r.in)
		if err != nil {
			return nil, fmt.Errorf("read responses: %w", err)
		}
		lim := schemas.DefaultLimits()
		lim.MaxMessageBytes, lim.MaxRows = len(b)+1, 1<<30
		return schemas.NewDecoder(schemas.WithLimits(lim)).DecodeResponses(b)
	case r.in == "" && r.format != "" && r.path != "":
		format, err := datasets.ParseFormat(r.format)
		if err != nil {
			return nil, err
		}
		rows, err := datasets.ReadResponses(r.path, format)
		if err != nil {
			return nil, err
		}
		// Public answers include empty ones, which response.v1 refuses:
		// refine only what the service itself would accept, and say so.
		rows, dropped := schemas.FilterResponses(rows, schemas.Limits{})
		for reason, n := range dropped {
			fmt.Fprintf(r.stderr, "skipped %d source rows: %s\n", n, reason)
		}
		if len(rows) == 0 {
			return nil, fmt.Errorf("no responses to refine in %s", r.path)
		}
		return rows, nil
	}
	return nil, errors.New("give either --in, or --format with --path")
}

func (r *refineOptions) write(cmd *cobra.Command, snap *learner.Snapshot,
	rows []schemas.Response, rounds int) error {
	if r.rounds > 0 {
		rounds = r.rounds
	}
	var sink *sinks.JSONLines
	var err error
	if r.out == "" {
		sink, err = sinks.NewJSONLines(cmd.OutOrStdout())
	} else {
		// A one-shot run writes a new file; the service's sink appends.
		var f *os.File
		if f, err = os.Create(r.out); err == nil {
			sink, err = sinks.NewJSONLines(f)
			defer f.Close()
		}
	}
	if err != nil {
		return err
	}
	out := make([]schemas.Refined, len(rows))
	changed := 0
	for i, row := range rows {
		out[i] = stream.Refine(snap, row, rounds)
		if out[i].Changed {
			changed++
		}
	}
	if err := sink.WriteRefined(cmd.Context(), out); err != nil {
		sink.Close()
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "refined %d responses, %d changed, model version %d\n",
		len(rows), changed, snap.Version())
	return nil
}
