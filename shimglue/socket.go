package shimglue

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/internal/shimsocket"
)

// removeDeadSockets removes the task and debug sockets of shim id when
// nothing listens on them any more. A shim killed with SIGKILL cannot
// remove its sockets, and neither containerd nor runc's delete command
// does (containerd's pkg/shim: "the address socket might be leaking"),
// so /run/containerd/s would fill with them. A socket a live shim serves
// is left alone.
func removeDeadSockets(ctx context.Context, containerdAddress, id string, log *zerolog.Logger) {
	for _, debug := range []bool{false, true} {
		address, err := shim.SocketAddress(ctx, containerdAddress, id, debug)
		if err != nil {
			return
		}
		path := strings.TrimPrefix(address, "unix://")
		if !shimsocket.Dead(path, 0) { // the shim is gone: no age to wait for
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn().Err(err).Str("socket", path).Msg("remove the socket of a dead shim")
		}
	}
}

// RemoveSockets removes the task and debug sockets of the serving shim id
// of namespace ns: a shim that exits because containerd forgot it
// (TaskService.WatchBundle) runs in a bundle directory that is gone, from
// which containerd's own exit path cannot always find them.
func RemoveSockets(ctx context.Context, containerdAddress, ns, id string) {
	ctx = namespaces.WithNamespace(ctx, ns)
	for _, debug := range []bool{false, true} {
		if address, err := shim.SocketAddress(ctx, containerdAddress, id, debug); err == nil {
			_ = shim.RemoveSocket(address)
		}
	}
}
