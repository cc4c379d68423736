// Command slhf learns online from human preference feedback on Kafka with
// Stackelberg Learning from Human Feedback, and refines production
// responses with the learned Follower. `slhf run` with no brokers
// configured runs every stage on an embedded broker over bundled real data.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "slhf:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	var opts globalOptions
	root := &cobra.Command{
		Use:   "slhf",
		Short: "Online Stackelberg Learning from Human Feedback over Kafka",
		Long: "slhf learns a Leader and a Follower policy from preference feedback " +
			"streaming on Kafka as Arrow records,\nand refines production responses " +
			"with the Follower. Run `slhf run` to see it work on bundled real data.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	opts.bind(root)
	root.AddCommand(
		newRunCmd(&opts),
		newReplayCmd(&opts),
		newRefineCmd(&opts),
		newAnalyzeCmd(),
		newCheckpointCmd(&opts),
		newSchemaCmd(),
		newConfigCmd(&opts),
	)
	return root
}
