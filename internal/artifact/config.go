package artifact

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Annotation names urunc reads; each is also a key of urunc.json.
const (
	AnnotationPrefix       = "com.urunc.unikernel."
	AnnotationType         = AnnotationPrefix + "unikernelType"
	AnnotationHypervisor   = AnnotationPrefix + "hypervisor"
	AnnotationBinary       = AnnotationPrefix + "binary"
	AnnotationInitrd       = AnnotationPrefix + "initrd"
	AnnotationCmdline      = AnnotationPrefix + "cmdline"
	AnnotationBlock        = AnnotationPrefix + "block"
	AnnotationBlkMntPoint  = AnnotationPrefix + "blkMntPoint"
	AnnotationMountRootfs  = AnnotationPrefix + "mountRootfs"
	AnnotationSnapshotView = AnnotationPrefix + "snapshotView"
	AnnotationVersion      = AnnotationPrefix + "unikernelVersion"
)

// ErrBadConfig is wrapped by every error about a malformed urunc.json.
var ErrBadConfig = errors.New("invalid urunc.json")

// Config is urunc's unikernel configuration: full annotation names mapped to
// their decoded values.
type Config map[string]string

// FromAnnotations returns the configuration carried by OCI spec annotations
// and whether it is complete (type, hypervisor and binary all present), in
// which case urunc uses it instead of urunc.json.
func FromAnnotations(annotations map[string]string) (Config, bool) {
	cfg := Config{}
	for k, v := range annotations {
		if strings.HasPrefix(k, AnnotationPrefix) {
			cfg[k] = v
		}
	}
	complete := cfg[AnnotationType] != "" && cfg[AnnotationHypervisor] != "" && cfg[AnnotationBinary] != ""
	return cfg, complete
}

// ParseUruncJSON decodes urunc.json: a flat JSON object whose values are
// base64 (standard encoding) strings.
func ParseUruncJSON(data []byte) (Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadConfig)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the first bad key deterministically
	cfg := make(Config, len(raw))
	for _, k := range keys {
		s, ok := raw[k].(string)
		if !ok {
			return nil, fmt.Errorf("%w: value of %s is not a string", ErrBadConfig, k)
		}
		v, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: value of %s is not base64: %v", ErrBadConfig, k, err)
		}
		cfg[k] = string(v)
	}
	return cfg, nil
}

// EncodeUruncJSON is the inverse of ParseUruncJSON, used to build sample
// images.
func EncodeUruncJSON(cfg Config) ([]byte, error) {
	enc := make(map[string]string, len(cfg))
	for k, v := range cfg {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return json.MarshalIndent(enc, "", "  ")
}
