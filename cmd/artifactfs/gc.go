package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/layout"
)

func newGCCommand() *cobra.Command {
	var address, namespace, root, socketDir string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "gc --address SOCK --namespace NS [--dry-run]",
		Short: "Remove views, leases, mounts and per-container paths left by containers that are gone",
		Long: `gc finds what artifactfs took for containers that no longer exist in
containerd — per-container paths (FUSE mounts, live or stale, bind mounts,
copies), mounted views and their loop devices, references to shared
views, views and leases labelled artifactfs.io/container — and releases it,
printing each item. Containers that still exist are never touched. It also
removes the shim sockets in --socket-dir that nothing listens on any more
(a shim that died before removing its socket; containerd's own start
removes such a socket too, but only for a shim of the same id). Under --root it touches only the
directories artifactfs marked as its own (extended attribute
trusted.artifactfs), never follows a symlink and never removes across a
mount point; anything else is reported and left. --dry-run only prints.`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if namespace == "" {
				return usageError(errors.New("--namespace is required"))
			}
			if err := artifactbind.ValidName(namespace); err != nil {
				return usageError(fmt.Errorf("--namespace: %w", err))
			}
			// The edge: what gc logs below carries the namespace once.
			ctx := zerolog.Ctx(cmd.Context()).With().Str("namespace", namespace).Logger().WithContext(cmd.Context())
			c, err := connect(ctx, address)
			if err != nil {
				return err
			}
			defer c.Close()
			removed, err := admin.GC(ctx, c, root, namespace, dryRun)
			sockets, serr := admin.GCSockets(socketDir, dryRun)
			removed, err = append(removed, sockets...), errors.Join(err, serr)
			out := cmd.OutOrStdout()
			if asJSON {
				if removed == nil {
					removed = []admin.Removed{}
				}
				if jerr := writeJSON(out, removed); jerr != nil {
					return jerr
				}
				return err
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, r := range removed {
				fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\n", verb, r.Kind, r.Namespace, r.ContainerID, r.Name)
			}
			tw.Flush()
			if len(removed) == 0 && err == nil {
				fmt.Fprintf(out, "nothing to remove in namespace %s\n", namespace)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&address, "address", "/run/containerd/containerd.sock", "containerd's socket")
	fl.StringVar(&namespace, "namespace", "", "containerd namespace to clean (e.g. default, k8s.io)")
	fl.StringVar(&root, "root", layout.RootFromEnv(), "root of the per-container paths ($"+layout.RootEnv+")")
	fl.StringVar(&socketDir, "socket-dir", admin.DefaultShimSocketDir, "directory of containerd's shim sockets: those nothing listens on are removed")
	fl.BoolVar(&dryRun, "dry-run", false, "only print what would be removed")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// connect dials containerd and checks it answers, so a wrong address gives
// one clear line at once rather than a timeout per request.
func connect(ctx context.Context, address string) (*client.Client, error) {
	if _, err := os.Stat(address); err != nil {
		return nil, fmt.Errorf("containerd socket: %w", err)
	}
	c, err := client.New(address, client.WithTimeout(connectTimeout))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w", address, err)
	}
	return c, nil
}

// connectTimeout bounds how long gc waits for containerd to answer.
const connectTimeout = 5 * time.Second
