package shimglue

import (
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/layout"
)

// Environment variables the shim reads (shimglue/plugin and WrapManager);
// a shim inherits containerd's environment.
const (
	// RootEnv moves the root of the per-container paths (Config.Root):
	// layout.RootEnv, named here with the shim's other settings.
	RootEnv = layout.RootEnv
	// StrictEnv, when true, makes every gated Create fail when the view
	// cannot be served, as AnnotationStrict does for one container.
	StrictEnv = "ARTIFACTFS_STRICT"
	// DirectEnv, when true, reads block views with blockreader instead of
	// mounting them (Config.Direct).
	DirectEnv = "ARTIFACTFS_DIRECT"
	// PrepareTimeoutEnv sets Config.PrepareTimeout as a Go duration
	// ("30s", "2m").
	PrepareTimeoutEnv = "ARTIFACTFS_PREPARE_TIMEOUT"
	// PerContainerViewsEnv, when true, gives every container a view and a
	// view mount of its own (Config.PerContainerViews), the layout before
	// views were shared; the bench compares the two.
	PerContainerViewsEnv = "ARTIFACTFS_PER_CONTAINER_VIEWS"
)

// DefaultPrepareTimeout is the default of Config.PrepareTimeout.
const DefaultPrepareTimeout = 30 * time.Second

// Config configures a Preparer. Each field's comment states its default.
type Config struct {
	// Root is the root of the per-container paths. Default
	// layout.RootFromEnv():
	// $ARTIFACTFS_ROOT, else /run/artifactfs.
	Root string
	// Strict makes Create fail when a gated container's view cannot be
	// served, for every container; AnnotationStrict does it for one.
	// Default false: the container starts without a view.
	Strict bool
	// Direct reads a block view (blockfile, devmapper) with blockreader
	// and serves it over FUSE without mounting it in the kernel. Default
	// false: the view is mounted read-only, and read directly only when
	// that mount fails.
	Direct bool
	// PerContainerViews gives every container a view of its own, mounted
	// on a loop device of its own (blockfile). Default false: the
	// containers of one image share one view and one host mount of it
	// (view.PrepareShared, layout.Image), so that the page cache and the
	// loop devices do not grow with their number.
	PerContainerViews bool
	// NoPassthrough serves every FUSE read from the shim even where FUSE
	// passthrough works. Default false.
	NoPassthrough bool
	// MaxSize caps each artifact's size in bytes, in every mode. Default
	// artifact.DefaultMaxSize (1 GiB).
	MaxSize int64
	// PrepareTimeout bounds a container's preparation in Create (view,
	// mounts, FUSE): past it Create goes on without a view, or fails in
	// strict mode, and what was taken is rolled back in the background
	// once the blocked step returns. Default DefaultPrepareTimeout (30s),
	// or $ARTIFACTFS_PREPARE_TIMEOUT.
	PrepareTimeout time.Duration
	// Logger receives warnings (a failed step and why, a rollback) and
	// debug detail. Default: discard.
	Logger zerolog.Logger
	// fault, when set, is called before each Step of a container's
	// Create and fails that step by returning an error (faults.go).
	// Default nil, except in a build with the artifactfs_faults tag.
	fault fault
}

// Option sets a field of Config.
type Option func(*Config)

// WithRoot sets Config.Root.
func WithRoot(root string) Option { return func(c *Config) { c.Root = root } }

// WithStrict sets Config.Strict.
func WithStrict(strict bool) Option { return func(c *Config) { c.Strict = strict } }

// WithDirect sets Config.Direct.
func WithDirect(direct bool) Option { return func(c *Config) { c.Direct = direct } }

// WithNoPassthrough sets Config.NoPassthrough.
func WithNoPassthrough(off bool) Option { return func(c *Config) { c.NoPassthrough = off } }

// WithMaxSize sets Config.MaxSize.
func WithMaxSize(n int64) Option { return func(c *Config) { c.MaxSize = n } }

// WithPrepareTimeout sets Config.PrepareTimeout.
func WithPrepareTimeout(d time.Duration) Option { return func(c *Config) { c.PrepareTimeout = d } }

// WithPerContainerViews sets Config.PerContainerViews.
func WithPerContainerViews(on bool) Option { return func(c *Config) { c.PerContainerViews = on } }

// WithLogger sets Config.Logger.
func WithLogger(l zerolog.Logger) Option { return func(c *Config) { c.Logger = l } }

// OptionsFromEnv returns the options the environment sets: StrictEnv,
// DirectEnv, PerContainerViewsEnv and PrepareTimeoutEnv (RootEnv is the default of Config.Root
// anyway). A PrepareTimeoutEnv that is not a positive duration is ignored.
func OptionsFromEnv() []Option {
	opts := []Option{
		WithStrict(isTrue(os.Getenv(StrictEnv))),
		WithDirect(isTrue(os.Getenv(DirectEnv))),
		WithPerContainerViews(isTrue(os.Getenv(PerContainerViewsEnv))),
	}
	if d, err := time.ParseDuration(os.Getenv(PrepareTimeoutEnv)); err == nil && d > 0 {
		opts = append(opts, WithPrepareTimeout(d))
	}
	return opts
}

func newConfig(opts []Option) Config {
	c := Config{Logger: zerolog.Nop(), fault: defaultFault()}
	for _, o := range opts {
		o(&c)
	}
	if c.Root == "" {
		c.Root = layout.RootFromEnv()
	}
	if c.MaxSize <= 0 {
		c.MaxSize = artifact.DefaultMaxSize
	}
	if c.PrepareTimeout <= 0 {
		c.PrepareTimeout = DefaultPrepareTimeout
	}
	return c
}
