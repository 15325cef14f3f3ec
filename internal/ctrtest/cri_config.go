package ctrtest

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// CRINamespace is the containerd namespace CRI always uses.
const CRINamespace = "k8s.io"

// CRIOptions turn on containerd's CRI plugin in Start (Options.CRI), set
// up as ENVIRONMENT.md measured it: NRI off, no TCP service, a stream
// server on 127.0.0.1 with a free port, restrict_oom_score_adj (the host
// lacks CAP_SYS_RESOURCE), an empty CNI configuration directory
// (host-network pods only), and PauseImage pinned as the sandbox image.
type CRIOptions struct {
	// PauseImage is the pinned sandbox image reference; the caller imports
	// it into CRINamespace (see BuildPauseImage). Required.
	PauseImage string
	// Handlers are the runtime handlers (RuntimeClass handler names) CRI
	// offers besides its default runc.
	Handlers []CRIHandler
}

// CRIHandler is one containerd.runtimes.<Name> entry of the CRI runtime
// plugin, with the runtime_platforms entry of the images plugin that
// gives it its snapshotter.
type CRIHandler struct {
	// Name is the handler's name. Required.
	Name string
	// RuntimeType is its runtime_type. Default "io.containerd.artifactfs.v2".
	RuntimeType string
	// Snapshotter is its snapshotter. Default "blockfile".
	Snapshotter string
	// PodAnnotations and ContainerAnnotations are the allow-lists of pod
	// and container annotations CRI copies into the OCI spec.
	PodAnnotations, ContainerAnnotations []string
	// Options is the handler's options table (e.g. BinaryName); values are
	// strings, bools or ints. Nil: no table.
	Options map[string]any
}

// ArtifactfsRuntime is the runtime_type of artifactfs's shim.
const ArtifactfsRuntime = "io.containerd.artifactfs.v2"

// criConfig is config(l, w) with CRI on, as CRIOptions describes: 2.x's
// split CRI plugins, or 1.7's one plugin.
func criConfig(l layout, w string, o CRIOptions) (string, error) {
	if o.PauseImage == "" {
		return "", fmt.Errorf("cri config: no pause image")
	}
	for _, h := range o.Handlers {
		if h.Name == "" {
			return "", fmt.Errorf("cri config: a handler without a name")
		}
	}
	var b strings.Builder
	b.WriteString(config(l, w, []string{"io.containerd.nri.v1.nri"}))
	const grpc = "plugins.'io.containerd.grpc.v1.cri'"
	fmt.Fprintf(&b, "  [%s]\n", grpc)
	b.WriteString("    disable_tcp_service = true\n    stream_server_address = '127.0.0.1'\n    stream_server_port = '0'\n")
	// 1.7's one plugin holds it all; 2.x's images and runtime plugins
	// hold their parts.
	images, runtime := grpc, grpc
	if l.legacyCRI {
		fmt.Fprintf(&b, "    sandbox_image = %s\n", tomlString(o.PauseImage))
	} else {
		images, runtime = "plugins.'io.containerd.cri.v1.images'", "plugins.'io.containerd.cri.v1.runtime'"
		fmt.Fprintf(&b, "  [%s]\n    [%s.pinned_images]\n      sandbox = %s\n", images, images, tomlString(o.PauseImage))
		for _, h := range o.Handlers {
			h = h.withDefaults()
			fmt.Fprintf(&b, "    [%s.runtime_platforms.%s]\n      platform = 'linux/amd64'\n      snapshotter = %s\n",
				images, tomlString(h.Name), tomlString(h.Snapshotter))
		}
		fmt.Fprintf(&b, "  [%s]\n", runtime)
	}
	b.WriteString("    restrict_oom_score_adj = true\n")
	binDir := fmt.Sprintf("bin_dir = %s", tomlString(filepath.Join(w, "cni", "bin")))
	if l.cniBinDirs {
		binDir = fmt.Sprintf("bin_dirs = [%s]", tomlString(filepath.Join(w, "cni", "bin")))
	}
	fmt.Fprintf(&b, "    [%s.cni]\n      conf_dir = %s\n      %s\n", runtime, tomlString(filepath.Join(w, "cni", "net.d")), binDir)
	if l.legacyCRI {
		// 1.7's runtimes table replaces its default, whose runc entry
		// default_runtime_name still names: CRI fails to load without it.
		fmt.Fprintf(&b, "    [%s.containerd.runtimes.runc]\n      runtime_type = 'io.containerd.runc.v2'\n", runtime)
	}
	for _, h := range o.Handlers {
		h = h.withDefaults()
		table := fmt.Sprintf("%s.containerd.runtimes.%s", runtime, tomlString(h.Name))
		fmt.Fprintf(&b, "    [%s]\n      runtime_type = %s\n      snapshotter = %s\n", table, tomlString(h.RuntimeType), tomlString(h.Snapshotter))
		fmt.Fprintf(&b, "      pod_annotations = %s\n      container_annotations = %s\n", tomlStrings(h.PodAnnotations), tomlStrings(h.ContainerAnnotations))
		if h.Options == nil {
			continue
		}
		fmt.Fprintf(&b, "      [%s.options]\n", table)
		keys := make([]string, 0, len(h.Options))
		for k := range h.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := tomlValue(h.Options[k])
			if err != nil {
				return "", fmt.Errorf("cri config: handler %s option %s: %w", h.Name, k, err)
			}
			fmt.Fprintf(&b, "        %s = %s\n", tomlString(k), v)
		}
	}
	return b.String(), nil
}

func (h CRIHandler) withDefaults() CRIHandler {
	if h.RuntimeType == "" {
		h.RuntimeType = ArtifactfsRuntime
	}
	if h.Snapshotter == "" {
		h.Snapshotter = "blockfile"
	}
	return h
}

// tomlString quotes s as a TOML basic string (Go's quoting minus the
// escapes TOML lacks: \a, \v and \x become \u).
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func tomlValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return tomlString(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	default:
		return "", fmt.Errorf("unsupported value type %T", v)
	}
}
