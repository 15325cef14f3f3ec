package view

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/containerd/containerd/v2/pkg/identifiers"
)

// Prefix starts every view key and lease id artifactfs creates.
const Prefix = "artifactfs/"

// Labels set on both the view snapshot and its lease.
const (
	// LabelContainer holds the id of the container the view belongs to.
	LabelContainer = "artifactfs.io/container"
	// LabelNamespace holds the containerd namespace of that container.
	LabelNamespace = "artifactfs.io/namespace"
	// LabelShared marks a view shared by the containers of one image
	// (SharedKey); it carries no LabelContainer.
	LabelShared = "artifactfs.io/shared"
)

// sharedPrefix starts the key of every shared view.
const sharedPrefix = Prefix + "image/"

// SharedKey returns the snapshot key of the view that the containers of
// namespace ns share when their snapshots derive from the committed
// snapshot parent of snapshotter sn: "artifactfs/image/" and 32 hex digits
// of a sha256 of the three. Containers of one image share it; another
// namespace, snapshotter or image never does.
func SharedKey(ns, sn, parent string) string {
	sum := sha256.Sum256([]byte(ns + "\x00" + sn + "\x00" + parent))
	return sharedPrefix + hex.EncodeToString(sum[:16])
}

// IsShared reports whether key is a shared view's (SharedKey): releasing
// one container never removes it; containerd's collector does, once no
// lease holds it.
func IsShared(key string) bool { return strings.HasPrefix(key, sharedPrefix) }

// SharedName returns the hex part of shared view key, which names the
// view's host mount; "" for a key that is not a shared view's.
func SharedName(key string) string {
	name, ok := strings.CutPrefix(key, sharedPrefix)
	if !ok || len(name) != 32 || strings.Trim(name, "0123456789abcdef") != "" {
		return ""
	}
	return name
}

// Key returns the snapshot key of the view of container id in namespace ns:
// "artifactfs/<ns>/<id>". containerd restricts namespaces and container ids
// to identifiers ([A-Za-z0-9]+ joined by single '.', '_' or '-', at most 76
// bytes), which contain no '/', so the name is unambiguous; for other input
// the name is "artifactfs/h-" and 32 hex digits of a sha256 of both.
func Key(ns, id string) string { return name(ns, id) }

// LeaseID returns the id of the lease holding the view of container id in
// namespace ns. It equals Key(ns, id): leases and snapshots are separate
// name spaces in containerd, and one name is easier to follow in `ctr`.
// containerd does not restrict lease ids to identifiers; the '/' of
// the prefix is accepted.
func LeaseID(ns, id string) string { return name(ns, id) }

func name(ns, id string) string {
	if identifiers.Validate(ns) == nil && identifiers.Validate(id) == nil {
		return Prefix + ns + "/" + id
	}
	sum := sha256.Sum256([]byte(ns + "\x00" + id))
	return Prefix + "h-" + hex.EncodeToString(sum[:16])
}

// labels returns the labels of the view and lease of container id.
func labels(ns, id string) map[string]string {
	return map[string]string{LabelContainer: id, LabelNamespace: ns}
}

// resourceType is the lease resource type of snapshots of snapshotter sn.
func resourceType(sn string) string { return "snapshots/" + sn }
