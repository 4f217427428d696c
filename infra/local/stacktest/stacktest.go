// Package stacktest starts the real local stack (infra/local/stack) for tests:
// the template's functions built once per test binary, every service on an
// ephemeral loopback port, fresh state in a temp dir, schedules fired on demand
// only, and provider callback retries compressed.
package stacktest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/build"
	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/template"
)

// Root returns the repository root (the directory holding go.mod), searching up
// from the working directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("stacktest: go.mod not found")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds the product's functions once per test process and returns the
// directory holding <LogicalID>/bootstrap.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root := Root(t)
		tmpl, err := template.Load(filepath.Join(root, "template.yaml"))
		if err != nil {
			buildErr = err
			return
		}
		binDir, buildErr = binariesDir()
		if buildErr != nil {
			return
		}
		_, buildErr = build.Functions(context.Background(), root, tmpl, build.Host, binDir)
	})
	if buildErr != nil {
		t.Fatalf("stacktest: build functions: %v", buildErr)
	}
	return binDir
}

// binariesDir makes this test process's directory for the built functions
// under <tmp>/estatepay-bin, named after its pid, and removes the ones of
// processes that have ended: a test binary has no exit hook, so each run
// clears what the runs before it left (a full `make test` builds ~70 MB
// per package that starts a stack).
func binariesDir() (string, error) {
	parent := filepath.Join(os.TempDir(), "estatepay-bin")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		pid, _, ok := strings.Cut(e.Name(), "-")
		if n, err := strconv.Atoi(pid); ok && err == nil && n != os.Getpid() && !processAlive(n) {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
	return os.MkdirTemp(parent, strconv.Itoa(os.Getpid())+"-")
}

// processAlive reports whether a process with this pid exists (signal 0
// checks without sending; EPERM: it exists, owned by someone else).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Options tweak Start.
type Options struct {
	StateDir string // reuse a state dir (restart tests); default t.TempDir()
}

// Start runs the product's local stack for t and stops it at cleanup. The
// stack's log is printed only if the test fails.
func Start(t testing.TB, opts ...Options) *stack.Stack {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	log := &syncBuffer{}
	s, err := stack.Start(context.Background(), stack.Options{
		Root:          Root(t),
		StateDir:      o.StateDir,
		BinDir:        Binaries(t),
		Log:           log,
		NoSchedules:   true,
		NotifyRetry:   []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond},
		SnapshotEvery: time.Hour,
	})
	if err != nil {
		t.Fatalf("stacktest: start: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stacktest: close: %v", err)
		}
		if t.Failed() {
			t.Logf("local stack log:\n%s", log.String())
		}
	})
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
