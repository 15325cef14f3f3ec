package shimglue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/artifactfs/artifactfs/view"
)

// dialTimeout bounds the connection to containerd.
const dialTimeout = 10 * time.Second

// ContainerdViewer is the Viewer backed by the containerd daemon at an
// address. It connects on first use and keeps the connection; Close drops
// it.
type ContainerdViewer struct {
	address string

	mu     sync.Mutex
	client *client.Client
}

var _ Viewer = (*ContainerdViewer)(nil)

// NewContainerdViewer returns a Viewer that talks to containerd's gRPC
// socket at address (a shim gets it from its plugin properties, or its
// -address flag).
func NewContainerdViewer(address string) *ContainerdViewer {
	return &ContainerdViewer{address: address}
}

// Warm connects to containerd and makes one cheap call, so that the first
// Prepare does not pay for dialing and for the client's first use. The
// shim calls it in the background when it starts, before containerd sends
// Create; a failure is returned for logging only (Prepare dials again).
func (v *ContainerdViewer) Warm(ctx context.Context) error {
	c, err := v.connect()
	if err != nil {
		return err
	}
	if _, err := c.Version(ctx); err != nil {
		return fmt.Errorf("warm connection to containerd at %s: %w", v.address, err)
	}
	return nil
}

// Prepare prepares the view of container id in namespace ns
// (view.PrepareShared, or view.Prepare when not shared).
func (v *ContainerdViewer) Prepare(ctx context.Context, ns, id string, shared bool) (*view.View, error) {
	c, err := v.connect()
	if err != nil {
		return nil, err
	}
	if shared {
		return view.PrepareShared(ctx, c, ns, id)
	}
	return view.Prepare(ctx, c, ns, id)
}

// Release removes the view of container id and its lease (view.Release).
func (v *ContainerdViewer) Release(ctx context.Context, ns, snapshotter, id string) error {
	c, err := v.connect()
	if err != nil {
		return err
	}
	return view.Release(ctx, c, ns, snapshotter, id)
}

// Close closes the connection, if any.
func (v *ContainerdViewer) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.client == nil {
		return nil
	}
	err := v.client.Close()
	v.client = nil
	return err
}

func (v *ContainerdViewer) connect() (*client.Client, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.client != nil {
		return v.client, nil
	}
	if v.address == "" {
		return nil, fmt.Errorf("connect to containerd: no address")
	}
	c, err := client.New(v.address, client.WithTimeout(dialTimeout))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", v.address, err)
	}
	v.client = c
	return c, nil
}
