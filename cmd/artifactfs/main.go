package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the process exit code.
func run(args []string) int {
	root := newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "artifactfs: %s\n", oneLine(err))
	return exitCode(err)
}

func newRootCommand() *cobra.Command {
	var logLevel, logFormat string
	root := &cobra.Command{
		Use:   "artifactfs",
		Short: "Serve a unikernel's boot artifacts read-only, straight from its image",
		Long: `artifactfs exposes exactly the boot artifacts of a unikernel container image —
the kernel, the initrd and urunc.json — read-only, from an ext4 image or block
device (read directly, never mounted) or from a mounted snapshot view.

Every command that reads an image takes one source: --image PATH, --dir PATH
or --bundle PATH (a container bundle). Without --kernel and --initrd the
artifact paths follow urunc's rule: the spec annotations when they name the
unikernel type, hypervisor and binary, else /urunc.json in the image (base64
values) names com.urunc.unikernel.binary and .initrd.

status lists the per-container paths the shim serves (/run/artifactfs); gc
removes what crashed containers left behind.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(os.Stderr, logLevel, logFormat)
			if err != nil {
				return usageError(err)
			}
			cmd.SetContext(logger.WithContext(cmd.Context()))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log lines on stderr: text (readable; coloured at a terminal unless $NO_COLOR is set) or json (one object a line, for scripts)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(
		newMountCommand(),
		newUmountCommand(),
		newLsCommand(),
		newCatCommand(),
		newStatCommand(),
		newExtractCommand(),
		newStatusCommand(),
		newGCCommand(),
	)
	return root
}

// newLogger logs to out in format "text" (readable lines, coloured only
// when out is a terminal and $NO_COLOR is unset) or "json" (one zerolog
// JSON object a line).
func newLogger(out *os.File, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("invalid --log-level %q (use debug, info, warn or error)", level)
	}
	var logger zerolog.Logger
	switch format {
	case "text":
		_, noColor := os.LookupEnv("NO_COLOR")
		logger = zerolog.New(zerolog.ConsoleWriter{
			Out:        out,
			NoColor:    noColor || !term.IsTerminal(int(out.Fd())),
			TimeFormat: time.TimeOnly,
		})
	case "json":
		logger = zerolog.New(out)
	default:
		return zerolog.Logger{}, fmt.Errorf("invalid --log-format %q (use text or json)", format)
	}
	return logger.Level(lvl).With().Timestamp().Logger(), nil
}

// oneLine keeps an error message on one line, as the CLI contract promises,
// with the control characters an image's names may carry escaped.
func oneLine(err error) string {
	return strings.Join(strings.Fields(escapeKeepLines(err.Error())), " ")
}
