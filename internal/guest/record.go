package guest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// RecordsEnv names, in the environment of the urunc-shaped runtime
// (tests/urunc-shaped, inherited from containerd through the shim), the
// directory where its hook writes a Record as <container-id>.json.
const RecordsEnv = "URUNC_SHAPED_RECORDS"

// Record is what the urunc-shaped runtime's hook did for one container.
type Record struct {
	// Mode is "bind" (from the artifactfs state) or "copy" (no state, or an
	// unusable one: from the container's rootfs).
	Mode string `json:"mode"`
	// StateMode is the state's mode (fuse, direct, bind, copy); empty
	// without a state.
	StateMode string `json:"state_mode,omitempty"`
	// StateError is why a state file was not used.
	StateError string `json:"state_error,omitempty"`
	// StatePath is the per-container path the binds came from.
	StatePath string `json:"state_path,omitempty"`
	// MountNS is the hook's mount namespace (readlink /proc/self/ns/mnt).
	MountNS string `json:"mount_ns"`
	// RootPropagation is the optional fields of / in the hook's mount
	// table before it bound anything ("master:N" after runc's rslave of
	// a shared root; "shared:N" would mean binds propagate).
	RootPropagation string `json:"root_propagation"`
	// Pid and Status are from the OCI state runc passed on stdin.
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	// Artifacts are the files placed in the monitor rootfs.
	Artifacts []RecordedArtifact `json:"artifacts"`
}

// RecordedArtifact is one file placed in the monitor rootfs.
type RecordedArtifact struct {
	// Path is the in-image path, also the path under the monitor rootfs.
	Path string `json:"path"`
	// MountSource, MountFSType and MountOptions are those of the mount at
	// the file in the monitor rootfs (bind mode), as the hook's mount
	// table shows it.
	MountSource  string `json:"mount_source,omitempty"`
	MountFSType  string `json:"mount_fstype,omitempty"`
	MountOptions string `json:"mount_options,omitempty"`
	// Size is the file's size in the monitor rootfs.
	Size int64 `json:"size"`
}

// ReadRecord reads the record of container id from dir.
func ReadRecord(dir, id string) (*Record, error) {
	p := filepath.Join(dir, id+".json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("hook record: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("hook record %s: %w", p, err)
	}
	return &r, nil
}

// QemuPids returns the pids of the qemu processes booting container id
// (their command line carries ContainerParam=id).
func QemuPids(id string) []string {
	var pids []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("qemu-system")) {
			continue
		}
		if bytes.Contains(b, []byte(ContainerParam+"="+id+"\x00")) || bytes.Contains(b, []byte(ContainerParam+"="+id+" ")) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}
