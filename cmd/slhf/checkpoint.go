package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/slhf-dev/slhf/sinks"
)

func newCheckpointCmd(o *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Work with checkpoints",
	}
	var full bool
	inspect := &cobra.Command{
		Use:   "inspect [FILE]",
		Short: "Show a checkpoint's header: step, fingerprint, offsets, tensors, checksum",
		Long: "Without FILE, inspects the newest valid checkpoint in checkpoint.dir.\n" +
			"Checkpoints are Arrow IPC files; pyarrow opens them too.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := o.load()
			if err != nil {
				return err
			}
			path := ""
			if len(args) == 1 {
				path = args[0]
			} else if path, err = newestCheckpoint(cfg.Checkpoint.Dir); err != nil {
				return err
			}
			info, err := sinks.InspectCheckpoint(path)
			if err != nil {
				return err
			}
			if !full {
				shortenMeta(info.Meta)
			}
			b, err := json.MarshalIndent(info, "", "  ")
			if err != nil {
				return fmt.Errorf("encode checkpoint info: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return nil
		},
	}
	inspect.Flags().BoolVar(&full, "full", false, "print metadata values whole "+
		"(the context cache holds prompts and candidate texts, megabytes of them)")
	cmd.AddCommand(inspect)
	return cmd
}

// shortenMeta cuts long metadata values to a summary line.
func shortenMeta(meta map[string]string) {
	const keep = 120
	for k, v := range meta {
		if len(v) > keep {
			meta[k] = fmt.Sprintf("%s… (%d bytes; --full prints it)", v[:keep], len(v))
		}
	}
}

// newestCheckpoint returns the path of the newest checkpoint file in dir.
func newestCheckpoint(dir string) (string, error) {
	store, err := sinks.OpenCheckpointReader(dir, nil, nil)
	if err != nil {
		return "", err
	}
	paths, err := store.List()
	if err != nil {
		return "", err
	}
	if len(paths) == 0 {
		return "", fmt.Errorf("no checkpoint in %s: %w", dir, sinks.ErrNoCheckpoint)
	}
	return paths[len(paths)-1], nil
}
