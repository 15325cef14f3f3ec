package main

import (
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/extract"
)

func newExtractCommand() *cobra.Command {
	var sf sourceFlags
	var force bool
	cmd := &cobra.Command{
		Use:   "extract (--image PATH | --dir PATH | --bundle PATH) [flags] DIR",
		Short: "Copy the artifacts into DIR at their in-image paths",
		Args:  exactArgs(1, "DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, set, err := sf.open()
			if err != nil {
				return err
			}
			defer src.Close()
			log := zerolog.Ctx(cmd.Context())
			return extract.Extract(src, set, args[0], force, func(a artifact.Artifact, dst string) {
				log.Info().Str("kind", string(a.Kind)).Str("path", escape(a.Path)).Int64("size", a.Info.Size).Str("to", escape(dst)).Msg("extracted")
			})
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&force, "force", false, "replace files that already exist in DIR")
	return cmd
}
