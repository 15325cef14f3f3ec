package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/source"
)

// errNotArtifact is returned by cat for a path that is not an artifact.
var errNotArtifact = errors.New("not an artifact of this image")

// artifactJSON is the --json form of one artifact.
type artifactJSON struct {
	Kind     artifact.Kind `json:"kind"`
	Path     string        `json:"path"`
	Resolved string        `json:"resolved"`
	Size     int64         `json:"size"`
	Mode     string        `json:"mode"`
	ModTime  time.Time     `json:"mtime"`
	Nlink    uint32        `json:"nlink"`
	Inode    uint64        `json:"inode"`
	SHA256   string        `json:"sha256,omitempty"`
}

func toJSON(a artifact.Artifact) artifactJSON {
	return artifactJSON{
		Kind: a.Kind, Path: a.Path, Resolved: a.Info.Path, Size: a.Info.Size,
		Mode: a.Info.Mode.String(), ModTime: a.Info.ModTime.UTC(), Nlink: a.Info.Nlink, Inode: a.Info.Ino,
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newLsCommand() *cobra.Command {
	var sf sourceFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls (--image PATH | --dir PATH | --bundle PATH) [flags]",
		Short: "List the boot artifacts of a source",
		Args:  exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, set, err := sf.open()
			if err != nil {
				return err
			}
			defer src.Close()
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]artifactJSON, 0, len(set.Artifacts))
				for _, a := range set.Artifacts {
					list = append(list, toJSON(a))
				}
				return writeJSON(out, list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tPATH\tSIZE\tMODE\tRESOLVED")
			for _, a := range set.Artifacts {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", a.Kind, escape(a.Path), a.Info.Size, a.Info.Mode, escape(a.Info.Path))
			}
			return tw.Flush()
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newCatCommand() *cobra.Command {
	var sf sourceFlags
	cmd := &cobra.Command{
		Use:       "cat (--image PATH | --dir PATH | --bundle PATH) NAME",
		Short:     "Write one artifact to stdout (NAME: kernel, initrd, config, or its in-image path)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{string(artifact.KindKernel), string(artifact.KindInitrd), string(artifact.KindConfig)},
		RunE: func(cmd *cobra.Command, args []string) error {
			src, set, err := sf.open()
			if err != nil {
				return err
			}
			defer src.Close()
			a, err := findArtifact(set, args[0])
			if err != nil {
				return err
			}
			f, err := src.Open(a.Path)
			if err != nil {
				return fmt.Errorf("open %s %s: %w", a.Kind, a.Path, err)
			}
			defer f.Close()
			if _, err := io.Copy(cmd.OutOrStdout(), io.NewSectionReader(f, 0, a.Info.Size)); err != nil {
				return fmt.Errorf("read %s %s: %w", a.Kind, a.Path, err)
			}
			return nil
		},
	}
	sf.register(cmd)
	return cmd
}

// findArtifact looks an artifact up by kind or by in-image path.
func findArtifact(set artifact.Set, name string) (artifact.Artifact, error) {
	switch artifact.Kind(name) {
	case artifact.KindKernel, artifact.KindInitrd, artifact.KindConfig:
		if a, ok := set.Get(artifact.Kind(name)); ok {
			return a, nil
		}
		return artifact.Artifact{}, fmt.Errorf("this image has no %s: %w", name, os.ErrNotExist)
	}
	clean, err := imagepath.Clean(name)
	if err != nil {
		return artifact.Artifact{}, usageError(fmt.Errorf("NAME %q is neither kernel, initrd, config nor an absolute in-image path", name))
	}
	for _, a := range set.Artifacts {
		if a.Path == clean {
			return a, nil
		}
	}
	return artifact.Artifact{}, fmt.Errorf("%s: %w (artifacts: %v)", clean, errNotArtifact, set.Paths())
}

func newStatCommand() *cobra.Command {
	var sf sourceFlags
	var asJSON, withSum bool
	cmd := &cobra.Command{
		Use:   "stat (--image PATH | --dir PATH | --bundle PATH) [flags]",
		Short: "Describe a source: where its configuration comes from and each artifact in detail",
		Args:  exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, set, err := sf.open()
			if err != nil {
				return err
			}
			defer src.Close()
			list := make([]artifactJSON, 0, len(set.Artifacts))
			for _, a := range set.Artifacts {
				j := toJSON(a)
				if withSum {
					if j.SHA256, err = sum(src, a); err != nil {
						return err
					}
				}
				list = append(list, j)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{
					"source": src.String(), "origin": set.Origin, "config": set.Config, "artifacts": list,
				})
			}
			fmt.Fprintf(out, "source: %s\nconfiguration: %s\n", escape(src.String()), escape(set.Origin))
			keys := make([]string, 0, len(set.Config))
			for k := range set.Config {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "  %s=%q\n", escape(k), set.Config[k])
			}
			for _, a := range list {
				fmt.Fprintf(out, "%s: %s\n  resolved: %s\n  size: %d\n  mode: %s\n  mtime: %s\n  links: %d\n  inode: %d\n",
					a.Kind, escape(a.Path), escape(a.Resolved), a.Size, a.Mode, a.ModTime.Format(time.RFC3339), a.Nlink, a.Inode)
				if a.SHA256 != "" {
					fmt.Fprintf(out, "  sha256: %s\n", a.SHA256)
				}
			}
			return nil
		},
	}
	sf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&withSum, "sha256", false, "read each artifact and print its sha256")
	return cmd
}

func sum(src source.Source, a artifact.Artifact) (string, error) {
	f, err := src.Open(a.Path)
	if err != nil {
		return "", fmt.Errorf("open %s %s: %w", a.Kind, a.Path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, a.Info.Size)); err != nil {
		return "", fmt.Errorf("read %s %s: %w", a.Kind, a.Path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
