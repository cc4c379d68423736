package main

import (
	"github.com/spf13/cobra"

	"github.com/slhf-dev/slhf/schemas"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the Arrow record schemas: preference.v1, response.v1, refined.v1",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return schemas.Describe(cmd.OutOrStdout())
		},
	}
}
