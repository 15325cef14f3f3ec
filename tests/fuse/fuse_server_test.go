package fuse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
)

// fuseServerEnv and fuseServerDirEnv name the mountpoint a re-executed
// test binary serves and the directory it serves from; with
// fuseSelfCheckEnv set it checks its own mount instead of serving it.
const (
	fuseServerEnv    = "ARTIFACTFS_TEST_FUSE_SERVER"
	fuseServerDirEnv = "ARTIFACTFS_TEST_FUSE_SERVER_DIR"
	fuseSelfCheckEnv = "ARTIFACTFS_TEST_FUSE_SELF_CHECK"
)

// fuseServerMain is the mount server TestMain runs when fuseServerEnv is
// set. It mounts the directory fuseServerDirEnv at fuseServerEnv, prints
// "fuse-server ready" and serves until the mount ends. With
// fuseSelfCheckEnv set it instead reads every artifact through the mount,
// collects the mount options, unmounts and prints one report line. Logs go
// to stdout, where the parent ignores them unless it fails. It returns the
// exit code.
func fuseServerMain() int {
	mnt, dir := os.Getenv(fuseServerEnv), os.Getenv(fuseServerDirEnv)
	src, err := source.OpenDir(dir)
	if err != nil {
		fmt.Println("fuse-server error", err)
		return 1
	}
	defer src.Close()
	m, err := fuseServerMount(fuseLoggerTo(os.Stdout), src, mnt)
	if err != nil {
		fmt.Println("fuse-server error", err)
		return 1
	}
	if os.Getenv(fuseSelfCheckEnv) == "" {
		fmt.Println("fuse-server ready")
		m.Wait()
		return 0
	}
	checkErr := fuseReadArtifacts(mnt)
	opts, optsErr := fuseReadMountOptions(mnt)
	unmountErr := m.Unmount()
	fmt.Printf("fuse-server ready mode=%s options=%q unmount=%v check=%v\n",
		m.Mode(), opts, unmountErr, errors.Join(checkErr, optsErr))
	if checkErr != nil || optsErr != nil || unmountErr != nil {
		return 1
	}
	return 0
}

// fuseServerMount mounts the artifacts of src at mnt, asking for
// passthrough.
func fuseServerMount(ctx context.Context, src source.Source, mnt string) (*fs.Mounted, error) {
	root, err := fs.New(src, fuseArtifactPaths)
	if err != nil {
		return nil, err
	}
	return fs.Mount(ctx, mnt, root, fs.Options{Passthrough: true})
}

// fuseStartServer re-executes the test binary as a mount server (see
// fuseServerMain) serving dir at mnt, and waits for its "ready" line.
func fuseStartServer(t *testing.T, dir, mnt string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fuseServerEnv+"="+mnt, fuseServerDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); line == "fuse-server ready" {
				ready <- nil
				io.Copy(io.Discard, stdout)
				return
			} else if strings.HasPrefix(line, "fuse-server error") {
				ready <- errors.New(line)
				return
			}
		}
		ready <- errors.New("mount server exited before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("mount server not ready after 30s")
	}
	return cmd
}
