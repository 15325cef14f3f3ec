package shimglue

import (
	"bytes"
	"context"
	"fmt"
	"io"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/types"
	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// maxInfoOptionsSize bounds the runtime options the shim's -info command
// reads from stdin, as the start command bounds its bootstrap parameters.
const maxInfoOptionsSize = 10 << 20

// Start converts the runtime options containerd passes among the bootstrap
// parameters' extensions from runtimeoptions.v1.Options (CRI, ctr
// --runtime-config-path) to runc's (RuncOptions) before the inner Start
// looks for them there (runc's reads ShimCgroup). Options that do not
// convert are left as they are: the shim starts, and Create fails with the
// error naming the key.
func (m *Manager) Start(ctx context.Context, params *bootapi.BootstrapParams) (*bootapi.BootstrapResult, error) {
	exts := params.GetExtensions()[:0:0]
	for _, ext := range params.GetExtensions() {
		if v := ext.GetValue(); v.MessageIs(&runtimeoptions.Options{}) {
			conv, err := RuncOptions(v)
			switch {
			case err != nil:
				// Left as it is, for Create to report.
			case conv == nil:
				continue // no options
			default:
				ext = &bootapi.Extension{Value: conv}
			}
		}
		exts = append(exts, ext)
	}
	if params != nil {
		params.Extensions = exts
	}
	return m.Shim.Start(ctx, params)
}

// Info converts the runtime options on optionsR — containerd's
// introspection, which CRI uses to learn a handler's features, sends the
// handler's runtimeoptions.v1.Options — to runc's before the inner Info
// reads them; runc's Info accepts only its own type. An error names the
// key or type that does not convert.
func (m *Manager) Info(ctx context.Context, optionsR io.Reader) (*types.RuntimeInfo, error) {
	data, err := io.ReadAll(io.LimitReader(optionsR, maxInfoOptionsSize+1))
	if err != nil {
		return nil, fmt.Errorf("read runtime options: %w", err)
	}
	if len(data) > maxInfoOptionsSize {
		return nil, fmt.Errorf("runtime options larger than %d bytes", maxInfoOptionsSize)
	}
	if len(data) > 0 {
		var opts anypb.Any
		if err := proto.Unmarshal(data, &opts); err != nil {
			return nil, fmt.Errorf("decode runtime options: %w", err)
		}
		conv, err := RuncOptions(&opts)
		if err != nil {
			return nil, err
		}
		data = nil
		if conv != nil {
			if data, err = proto.Marshal(conv); err != nil {
				return nil, fmt.Errorf("encode runtime options: %w", err)
			}
		}
	}
	return m.Shim.Info(ctx, bytes.NewReader(data))
}
