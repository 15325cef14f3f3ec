package plugin

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/artifactfs/artifactfs/shimglue"
)

// early is what StartEarly started, until the task plugin takes it.
var early struct {
	sync.Mutex
	address  string
	viewer   *shimglue.ContainerdViewer
	preparer *shimglue.Preparer
	log      *shimglue.PendingWriter
}

// StartEarly starts preparing the container a shim process serves, from
// its main, before shim.RunShim: the shim runtime takes a few milliseconds
// to start its plugins, and the task plugin then carries on with what was
// started (its logs, held meanwhile, go to the shim's log). args are the
// process's arguments without the program name. It does nothing for the
// shim's start and delete commands, and when the arguments do not name
// a container whose bundle is the working directory. It also dials
// containerd in the background, so that the Creates of containers joining
// this shim later (a pod's app containers) find the connection warm.
func StartEarly(args []string) {
	ns, id, address, ok := serveArgs(args)
	if !ok {
		return
	}
	bundle, err := os.Getwd()
	if err != nil || filepath.Base(bundle) != id {
		return
	}
	w := &shimglue.PendingWriter{}
	log := shimglue.ShimLogger(w)
	viewer := shimglue.NewContainerdViewer(address)
	preparer := shimglue.NewPreparer(viewer, append(shimglue.OptionsFromEnv(), shimglue.WithLogger(log))...)
	// A pod's shim starts on the pause container, which gets nothing; its
	// app containers' Creates come later and find the connection warm.
	go warm(context.Background(), viewer)
	preparer.PrepareEarly(shimglue.WithContainer(context.Background(), log, ns, id), ns, id, bundle)
	early.Lock()
	early.address, early.viewer, early.preparer, early.log = address, viewer, preparer, w
	early.Unlock()
}

// takeEarly returns what StartEarly started for containerd at address, its
// log now going to out; nil when it started nothing.
func takeEarly(address string, out io.Writer) (*shimglue.ContainerdViewer, *shimglue.Preparer) {
	early.Lock()
	defer early.Unlock()
	if early.preparer == nil || early.address != address {
		return nil, nil
	}
	_ = early.log.Attach(out)
	v, p := early.viewer, early.preparer
	early.viewer, early.preparer = nil, nil
	return v, p
}

// serveArgs reads the namespace, id and containerd address from the
// arguments of a shim process that serves (no command such as start or
// delete). The shim runtime parses them again, with its own flags.
func serveArgs(args []string) (ns, id, address string, ok bool) {
	fs := flag.NewFlagSet("shim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&ns, "namespace", "", "")
	fs.StringVar(&id, "id", "", "")
	fs.StringVar(&address, "address", "", "")
	for _, name := range []string{"socket", "debug-socket", "bundle", "publish-binary"} {
		fs.String(name, "", "")
	}
	for _, name := range []string{"debug", "v", "version", "info"} {
		fs.Bool(name, false, "")
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || ns == "" || id == "" || address == "" {
		return "", "", "", false
	}
	return ns, id, address, true
}
