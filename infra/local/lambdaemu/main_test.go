package lambdaemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fixtureBin is the test function's bootstrap, built once by TestMain.
var fixtureBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdaemu-fixture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureBin = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", fixtureBin, "./testdata/fixture")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fixture: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fixtureResp struct {
	Text string `json:"text"`
	PID  int    `json:"pid"`
}

func newTestPool(t *testing.T, mod func(*FunctionConfig)) *Pool {
	t.Helper()
	cfg := FunctionConfig{Name: "fixture", Binary: fixtureBin, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	p := NewPool(cfg)
	t.Cleanup(func() { p.Close() })
	return p
}

func call(t *testing.T, p *Pool, req map[string]any) (fixtureResp, InvokeInfo, error) {
	t.Helper()
	return callCtx(t, context.Background(), p, req)
}

func callCtx(t *testing.T, ctx context.Context, p *Pool, req map[string]any) (fixtureResp, InvokeInfo, error) {
	t.Helper()
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out, info, err := p.Invoke(ctx, payload)
	var resp fixtureResp
	if err == nil {
		if uerr := json.Unmarshal(out, &resp); uerr != nil {
			t.Fatalf("response %q: %v", out, uerr)
		}
	}
	return resp, info, err
}

func mustCall(t *testing.T, p *Pool, req map[string]any) (fixtureResp, InvokeInfo) {
	t.Helper()
	resp, info, err := call(t, p, req)
	if err != nil {
		t.Fatalf("invoke %v: %v", req, err)
	}
	return resp, info
}

// processGone reports whether pid no longer runs (a zombie left for an
// absent init to reap counts as gone).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// Format: pid (comm) state ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitGone polls until pid is gone; the kill is asynchronous, so this is a
// wait on a condition with a generous bound.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running", pid)
		}
		runtimeYield()
	}
}

func runtimeYield() {
	<-time.After(2 * time.Millisecond)
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
