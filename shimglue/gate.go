package shimglue

import (
	"errors"
	"strconv"

	"github.com/artifactfs/artifactfs/internal/artifact"
)

// AnnotationStrict, when true (in the annotations, or in urunc.json when
// the configuration comes from there), makes Create fail when the view
// cannot be prepared, instead of letting the container start without one.
const AnnotationStrict = artifact.AnnotationSnapshotView + ".strict"

// Annotations containerd's CRI plugin puts on every container of a pod.
const (
	// AnnotationContainerType is "sandbox" for a pod's pause container and
	// "container" for its app containers.
	AnnotationContainerType = "io.kubernetes.cri.container-type"
	// ContainerTypeSandbox is AnnotationContainerType of a pause container.
	ContainerTypeSandbox = "sandbox"
)

// Decision says what the annotations decide about a container.
type Decision int

const (
	// Skip: no view. The annotations carry urunc's whole configuration and
	// it does not ask for one, or they turn snapshotView off explicitly.
	Skip Decision = iota
	// Act: the annotations set snapshotView=true and mountRootfs=true.
	Act
	// Probe: the configuration comes from the image's urunc.json, so only
	// the view can tell: prepare it, read urunc.json, release it if the
	// answer is no.
	Probe
)

// String names the decision for logs.
func (d Decision) String() string {
	switch d {
	case Act:
		return "act"
	case Probe:
		return "probe"
	default:
		return "skip"
	}
}

// Gate decides from a container's OCI annotations, following urunc's rule
// (artifact.FromAnnotations): the annotations are urunc's configuration
// when unikernelType, hypervisor and binary are all set; otherwise the
// whole configuration comes from urunc.json. Besides that rule, both
// snapshotView=true and mountRootfs=true in the annotations always act,
// and an explicit snapshotView=false always skips (an opt-out that costs
// nothing). A pod's sandbox (pause) container is always skipped: CRI copies
// the pod's annotations into its spec too, but it runs no unikernel.
func Gate(annotations map[string]string) Decision {
	if IsSandbox(annotations) {
		return Skip
	}
	cfg, complete := artifact.FromAnnotations(annotations)
	if wants(cfg) {
		return Act
	}
	if v, ok := cfg[artifact.AnnotationSnapshotView]; ok && v != "" && !isTrue(v) {
		return Skip
	}
	if complete {
		return Skip
	}
	return Probe
}

// IsSandbox reports whether the annotations are those of a pod's sandbox
// (pause) container, as containerd's CRI plugin marks it.
func IsSandbox(annotations map[string]string) bool {
	return annotations[AnnotationContainerType] == ContainerTypeSandbox
}

// wants reports whether a configuration asks for a view: snapshotView and
// mountRootfs both true.
func wants(cfg artifact.Config) bool {
	return isTrue(cfg[artifact.AnnotationSnapshotView]) && isTrue(cfg[artifact.AnnotationMountRootfs])
}

// strict reports whether a configuration sets AnnotationStrict.
func strict(cfg artifact.Config) bool { return isTrue(cfg[AnnotationStrict]) }

// isTrue parses a boolean annotation value as strconv.ParseBool does;
// anything else is false.
func isTrue(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// errNotWanted is returned by the Create pipeline when a probed urunc.json
// does not ask for a view: the view is released and nothing is logged
// above debug level.
var errNotWanted = errors.New("urunc.json does not ask for a snapshot view")

// errNoUruncConfig is returned by the Create pipeline for a container that
// has no urunc configuration at all: the annotations do not carry the whole
// of it and the image has no urunc.json. urunc would not run it as a
// unikernel (in a pod: a sidecar that got the pod's annotations), so it
// runs untouched, in strict mode too.
var errNoUruncConfig = errors.New("no urunc configuration: the annotations are incomplete and the image has no urunc.json")
