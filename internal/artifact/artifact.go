package artifact

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"

	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/source"
)

// Kind names one boot artifact.
type Kind string

// The boot artifacts.
const (
	KindKernel Kind = "kernel"
	KindInitrd Kind = "initrd"
	KindConfig Kind = "config"
)

const (
	// DefaultConfigPath is where urunc looks for its configuration in an image.
	DefaultConfigPath = "/urunc.json"
	// DefaultMaxSize caps every artifact (1 GiB), so a huge or sparse file
	// can neither fill /run through a copy nor be handed to a VMM.
	DefaultMaxSize int64 = 1 << 30
	// MaxConfigSize caps urunc.json, which is read into memory.
	MaxConfigSize = 1 << 20
)

var (
	// ErrNoKernel means neither flags, annotations nor urunc.json name a kernel.
	ErrNoKernel = errors.New("no kernel path")
	// ErrTooLarge means an artifact is over the size cap.
	ErrTooLarge = errors.New("artifact over the size cap")
)

// Artifact is one boot artifact found in an image.
type Artifact struct {
	// Kind says which artifact this is.
	Kind Kind
	// Path is the in-image path it is served at (as named, before symlinks).
	Path string
	// Info describes the file it resolves to.
	Info source.Info
}

// Set is the result of Resolve: the artifacts of one image and the
// configuration they were chosen by.
type Set struct {
	// Artifacts lists the kernel first, then the initrd and urunc.json when
	// present.
	Artifacts []Artifact
	// Origin says where the configuration came from: "annotations",
	// "urunc.json", or "flags" when there is none and only explicit paths
	// were given. Explicit paths override the configuration's either way.
	Origin string
	// Config is the decoded configuration (empty when Origin is "flags").
	Config Config
}

// Get returns the artifact of the given kind.
func (s Set) Get(k Kind) (Artifact, bool) {
	for _, a := range s.Artifacts {
		if a.Kind == k {
			return a, true
		}
	}
	return Artifact{}, false
}

// Paths returns the in-image paths of the artifacts, without duplicates.
func (s Set) Paths() []string {
	seen := map[string]bool{}
	var paths []string
	for _, a := range s.Artifacts {
		if !seen[a.Path] {
			seen[a.Path] = true
			paths = append(paths, a.Path)
		}
	}
	return paths
}

// Request says how to find the artifacts. The zero value follows urunc's
// rule with the default paths and cap.
type Request struct {
	// Kernel and Initrd are explicit in-image paths; each wins over the
	// configuration when set.
	Kernel, Initrd string
	// ConfigPath is where urunc.json lives in the image (default
	// DefaultConfigPath).
	ConfigPath string
	// Annotations are the container's OCI spec annotations, if any.
	Annotations map[string]string
	// MaxSize caps each artifact's size (default DefaultMaxSize).
	MaxSize int64
}

// Resolve finds the artifacts in src and checks each one: path rules, a
// regular file, within the size cap.
func Resolve(src source.Source, req Request) (Set, error) {
	if req.ConfigPath == "" {
		req.ConfigPath = DefaultConfigPath
	}
	if req.MaxSize <= 0 {
		req.MaxSize = DefaultMaxSize
	}
	configPath, err := imagepath.Clean(req.ConfigPath)
	if err != nil {
		return Set{}, fmt.Errorf("config path: %w", err)
	}
	configFile, fileCfg, err := readConfig(src, configPath)
	if err != nil {
		return Set{}, err
	}

	set := Set{Origin: "flags"}
	if cfg, complete := FromAnnotations(req.Annotations); complete {
		set.Origin, set.Config = "annotations", cfg
	} else if configFile != nil {
		set.Origin, set.Config = "urunc.json", fileCfg
	}

	kernel := firstNonEmpty(req.Kernel, set.Config[AnnotationBinary])
	if kernel == "" {
		return Set{}, noKernel(set.Origin, configPath)
	}
	if err := set.add(src, KindKernel, kernel, req.MaxSize); err != nil {
		return Set{}, err
	}
	if initrd := firstNonEmpty(req.Initrd, set.Config[AnnotationInitrd]); initrd != "" {
		if err := set.add(src, KindInitrd, initrd, req.MaxSize); err != nil {
			return Set{}, err
		}
	}
	if configFile != nil {
		set.Artifacts = append(set.Artifacts, Artifact{Kind: KindConfig, Path: configPath, Info: *configFile})
	}
	return set, nil
}

func (s *Set) add(src source.Source, kind Kind, p string, maxSize int64) error {
	clean, err := imagepath.Clean(p)
	if err != nil {
		return fmt.Errorf("%s path: %w", kind, err)
	}
	info, err := src.Stat(clean)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err) // err names the path
	}
	if !info.Mode.IsRegular() {
		return fmt.Errorf("%s %s: %w (%s)", kind, clean, source.ErrNotRegular, source.TypeName(info.Mode))
	}
	if info.Size > maxSize {
		return fmt.Errorf("%s %s: %w: %d bytes, cap %d", kind, clean, ErrTooLarge, info.Size, maxSize)
	}
	s.Artifacts = append(s.Artifacts, Artifact{Kind: kind, Path: clean, Info: info})
	return nil
}

// readConfig reads and parses urunc.json when the image has one; a missing
// file is not an error, a malformed one is.
func readConfig(src source.Source, p string) (*source.Info, Config, error) {
	info, err := src.Stat(p)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err) // err names the path
	}
	if !info.Mode.IsRegular() {
		return nil, nil, fmt.Errorf("config %s: %w (%s)", p, source.ErrNotRegular, source.TypeName(info.Mode))
	}
	if info.Size > MaxConfigSize {
		return nil, nil, fmt.Errorf("config %s: %w: %d bytes, cap %d", p, ErrTooLarge, info.Size, MaxConfigSize)
	}
	f, err := src.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err) // err names the path
	}
	defer f.Close()
	data := make([]byte, info.Size)
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("read config %s: %w", p, err)
	}
	cfg, err := ParseUruncJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", p, err)
	}
	return &info, cfg, nil
}

func noKernel(origin, configPath string) error {
	switch origin {
	case "urunc.json":
		return fmt.Errorf("%w: %s has no %s; pass --kernel", ErrNoKernel, configPath, AnnotationBinary)
	case "annotations":
		return fmt.Errorf("%w: annotation %s is empty", ErrNoKernel, AnnotationBinary)
	default:
		return fmt.Errorf("%w: the image has no %s and no --kernel was given", ErrNoKernel, configPath)
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
