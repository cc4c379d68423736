package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/spf13/cobra"

	"github.com/slhf-dev/slhf/internal/app"
	"github.com/slhf-dev/slhf/schemas"
	"github.com/slhf-dev/slhf/schemas/datasets"
)

type replayOptions struct {
	format    string
	path      string
	topic     string
	out       string
	responses bool
	rows      int
	stderr    io.Writer
}

func newReplayCmd(o *globalOptions) *cobra.Command {
	var r replayOptions
	cmd := &cobra.Command{
		Use:   "replay --format NAME --path FILE (--topic TOPIC | --out FILE)",
		Short: "Turn a public dataset into preference.v1 or response.v1 records",
		Long: "Reads one of the public formats and writes Arrow records to a Kafka topic\n" +
			"(each message under ingest.max_message_bytes) or to an Arrow IPC stream file.\n" +
			"Source rows the schema refuses (e.g. empty answers) are skipped and counted.\n\n" +
			pathHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load()
			if err != nil {
				return err
			}
			r.stderr = cmd.ErrOrStderr()
			limit := cfg.Ingest.MaxMessageBytes - 16<<10
			if r.out != "" {
				// A file holds one stream; Kafka's limit does not apply.
				limit, r.rows = math.MaxInt32, math.MaxInt32
			}
			values, n, err := r.encode(limit)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no %s rows in %s (see --help for what --path means per format)",
					r.format, r.path)
			}
			if r.out != "" {
				if err := writeStreamFile(r.out, values); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %d rows to %s\n", n, r.out)
				return nil
			}
			if cfg.UsesEmbeddedBroker() {
				return errors.New("replay to a topic needs --brokers (or kafka.brokers)")
			}
			if err := app.Produce(cmd.Context(), cfg, r.topic, values); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "produced %d rows in %d messages to %s\n",
				n, len(values), r.topic)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.format, "format", "", "dataset format: "+formatNames())
	f.StringVar(&r.path, "path", "", "dataset file or folder")
	f.StringVar(&r.topic, "topic", "", "Kafka topic to produce to")
	f.StringVar(&r.out, "out", "", "write an Arrow IPC stream file instead of producing")
	f.BoolVar(&r.responses, "responses", false, "emit response.v1 (traffic) instead of preference.v1")
	f.IntVar(&r.rows, "rows-per-message", 500, "rows per message before the size limit applies")
	_ = cmd.MarkFlagRequired("format")
	_ = cmd.MarkFlagRequired("path")
	cmd.MarkFlagsOneRequired("topic", "out")
	cmd.MarkFlagsMutuallyExclusive("topic", "out")
	return cmd
}

// encode reads the dataset and encodes it into message values.
func (r *replayOptions) encode(limit int) ([][]byte, int, error) {
	format, err := datasets.ParseFormat(r.format)
	if err != nil {
		return nil, 0, err
	}
	if r.rows < 1 {
		return nil, 0, fmt.Errorf("--rows-per-message must be at least 1, got %d", r.rows)
	}
	if r.responses {
		rows, err := datasets.ReadResponses(r.path, format)
		if err != nil {
			return nil, 0, err
		}
		rows, dropped := schemas.FilterResponses(rows, schemas.Limits{})
		r.report(dropped)
		values, err := app.EncodeChunks(rows, r.rows, limit, schemas.EncodeResponses)
		return values, len(rows), err
	}
	rows, err := datasets.ReadPreferences(r.path, format)
	if err != nil {
		return nil, 0, err
	}
	rows, dropped := schemas.FilterPreferences(rows, schemas.Limits{})
	r.report(dropped)
	values, err := app.EncodeChunks(rows, r.rows, limit, schemas.EncodePreferences)
	return values, len(rows), err
}

// report says which source rows the schema refused, so that none is lost
// without a word.
func (r *replayOptions) report(dropped map[schemas.Reason]int) {
	for reason, n := range dropped {
		fmt.Fprintf(r.stderr, "skipped %d source rows: %s\n", n, reason)
	}
}

// writeStreamFile writes one Arrow IPC stream (values holds exactly one
// when the limit is unbounded), which pyarrow opens with ipc.open_stream.
func writeStreamFile(path string, values [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, v := range values {
		if _, err := f.Write(v); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// pathHelp says what --path names for each format.
const pathHelp = `What --path names, per format:
  hh-rlhf       a JSON-lines file {chosen, rejected}, gzipped or not (preferences)
  pandalm       testset-v1.json (preferences)
  mt-bench      human_gpt_comparison.zip, or the CSV in it (preferences)
  llmbar        one dataset.json, or a folder searched for them (preferences)
  arena         preferences: the model_judgment folder; responses: one
                model_answer/<model>.jsonl or the model_answer folder (the other
                models' answers become candidates)
  alpaca-eval   preferences: annotations.json or a folder of them; responses: one
                <model>/model_outputs.json or the results folder
  vicuna-bench  the table folder (both); responses also one answer/*.jsonl`
