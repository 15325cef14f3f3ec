package layout

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxSpecSize bounds the config.json ReadSpec reads.
const maxSpecSize = 16 << 20

// ReadSpec reads and parses <bundle>/config.json.
func ReadSpec(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	if err != nil {
		return nil, fmt.Errorf("read spec %s: %w", p, err)
	}
	if len(data) > maxSpecSize {
		return nil, fmt.Errorf("read spec %s: larger than %d bytes", p, maxSpecSize)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("read spec %s: %w", p, err)
	}
	return &spec, nil
}
