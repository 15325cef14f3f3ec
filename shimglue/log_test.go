package shimglue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/namespaces"
)

func TestPendingWriter(t *testing.T) {
	var p PendingWriter
	p.Write([]byte("before "))
	p.Write([]byte("attach, "))
	var out bytes.Buffer
	if err := p.Attach(&out); err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("after"))
	if got := out.String(); got != "before attach, after" {
		t.Errorf("destination got %q", got)
	}
	// Held output is bounded.
	var q PendingWriter
	big := make([]byte, maxPending)
	q.Write(big)
	if n, err := q.Write([]byte("x")); n != 1 || err != nil {
		t.Errorf("Write past the bound = %d, %v; want 1, nil (dropped)", n, err)
	}
	out.Reset()
	q.Attach(&out)
	if out.Len() != maxPending {
		t.Errorf("held %d bytes, want %d", out.Len(), maxPending)
	}
}

// TestCreateLogsEachKeyOnce: one Create and Delete through the task
// service, FUSE mount included, logs JSON lines that each carry the
// container and namespace exactly once: the task service attaches them,
// the Preparer and fs only add their own fields.
func TestCreateLogsEachKeyOnce(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	writeSpec(t, e.bundle, `{"com.urunc.unikernel.snapshotView":"true","com.urunc.unikernel.mountRootfs":"true"}`)
	s := NewTaskService(&fakeTasks{}, e.preparer(newFakeViewer(blockfileMount(img))))
	ctx := namespaces.WithNamespace(context.Background(), "ns")
	if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, &taskAPI.DeleteRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(e.log.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d log lines, want the preparation's, the mount's and the unmount's:\n%s", len(lines), e.log)
	}
	for _, line := range lines {
		keys, err := jsonKeys([]byte(line))
		if err != nil {
			t.Errorf("not a JSON object: %v: %s", err, line)
			continue
		}
		for key, n := range keys {
			if n > 1 {
				t.Errorf("key %q %d times in %s", key, n, line)
			}
		}
		var fields struct{ Container, Namespace string }
		if err := json.Unmarshal([]byte(line), &fields); err != nil || fields.Container != "c1" || fields.Namespace != "ns" {
			t.Errorf("container %q, namespace %q (%v), want c1, ns: %s", fields.Container, fields.Namespace, err, line)
		}
	}
}

// jsonKeys counts the keys of the JSON object in data, nested objects'
// keys prefixed with their parent's ("steps.fuse").
func jsonKeys(data []byte) (map[string]int, error) {
	keys := map[string]int{}
	d := json.NewDecoder(bytes.NewReader(data))
	var walk func(prefix string) error
	walk = func(prefix string) error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				name := prefix + k.(string)
				keys[name]++
				if err := walk(name + "."); err != nil {
					return err
				}
			}
			_, err = d.Token() // '}'
			return err
		case json.Delim('['):
			for d.More() {
				if err := walk(prefix); err != nil {
					return err
				}
			}
			_, err = d.Token() // ']'
			return err
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys")
	}
	return keys, nil
}

func TestJSONKeys(t *testing.T) {
	keys, err := jsonKeys([]byte(`{"a":1,"b":{"c":[{"d":1}],"c2":2},"a":"again"}`))
	if err != nil {
		t.Fatal(err)
	}
	if keys["a"] != 2 || keys["b.c2"] != 1 || keys["b.c.d"] != 1 {
		t.Errorf("jsonKeys = %v", keys)
	}
}
