package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/internal/layout"
)

func newStatusCommand() *cobra.Command {
	var root string
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status [--root DIR] [--json] [--timeout D]",
		Short: "List every per-container path: container, mode, view (own, or shared with the containers of its image), artifacts, healthy or stale",
		Long: `status lists the per-container paths under the root (default /run/artifactfs,
or $ARTIFACTFS_ROOT): for each container its mode (fuse, direct, bind,
copy), where its view comes from (own, or shared with the other containers
of its image), whether its artifacts answer (healthy, stale, hung) and the
artifacts with their sizes.

Only what the shim marked as its own (extended attribute trusted.artifactfs)
is listed as a container. An entry under the root without that marker is
listed with mode "unknown" and what it is, never guessed to be a container;
gc leaves it alone. A directory that is not a root the shim made is refused
in one line (exit 5): check --root. A root that does not exist yet has no
per-container paths.`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := admin.Status(root, timeout)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if entries == nil {
					entries = []admin.Entry{}
				}
				return writeJSON(out, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintf(out, "no per-container paths under %s\n", root)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAMESPACE\tCONTAINER\tMODE\tVIEW\tHEALTH\tARTIFACTS")
			for _, e := range entries {
				if e.Kind == admin.KindUnknown {
					fmt.Fprintf(tw, "%s\t%s\t%s\t-\tunknown: %s\t\n", escape(e.Namespace), orDash(escape(e.ContainerID)), e.Mode, e.Problem)
					continue
				}
				health := "healthy"
				switch {
				case e.Hung:
					health = "hung: " + e.Problem
				case !e.Healthy:
					health = "stale: " + e.Problem
				}
				var arts []string
				for _, a := range e.Artifacts {
					arts = append(arts, fmt.Sprintf("%s (%d)", escape(a.Path), a.Size))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Namespace, e.ContainerID, e.Mode, viewColumn(e), health, strings.Join(arts, ", "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&root, "root", layout.RootFromEnv(), "root of the per-container paths ($"+layout.RootEnv+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	timeoutFlag(cmd, &timeout)
	return cmd
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// viewColumn says where a container's artifacts come from: "shared <name>
// (+N)" for a view the containers of its image share, with N others
// holding it, else "own".
func viewColumn(e admin.Entry) string {
	if e.SharedView == "" {
		return "own"
	}
	return fmt.Sprintf("shared %s (+%d)", e.SharedView[:12], len(e.SharedWith))
}
