package shimglue

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/rs/zerolog"
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
		conn, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			conn.Close()
			continue
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			continue // not there, or not ours to judge
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
