package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// While the stack starts (here: building the fixture's functions from
// source), its gateway and control ports answer 503 at once instead of
// hanging; a script that waits for the gateway and then reads stack.json
// always finds this stack's file, never an earlier run's; the build says
// what it builds; Close removes stack.json.
func TestStartIsGatedUntilStackJSON(t *testing.T) {
	dir := t.TempDir()
	stackJSON := filepath.Join(dir, "stack.json")
	stale := `{"urls":{"gateway":"http://127.0.0.1:1","control":"http://127.0.0.1:2"}}`
	if err := os.WriteFile(stackJSON, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &logBuffer{}
	type started struct {
		s   *stack.Stack
		err error
	}
	done := make(chan started, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		s, err := stack.Start(ctx, stack.Options{Root: filepath.Join("testdata", "fixture"), StateDir: dir, Log: log,
			NoSchedules: true, SnapshotEvery: time.Hour})
		done <- started{s, err}
	}()
	var s *stack.Stack
	t.Cleanup(func() {
		if s == nil {
			if st := <-done; st.s != nil {
				st.s.Close()
			}
		}
		if t.Failed() {
			t.Logf("stack log:\n%s", log.String())
		}
	})

	starting := regexp.MustCompile(`starting: (http://\S+) \(gateway\) and (http://\S+) \(control\) answer 503`)
	var m []string
	eventually(t, time.Minute, "the stack to announce its ports", func() bool {
		m = starting.FindStringSubmatch(log.String())
		return m != nil
	})
	gw, ctl := m[1], m[2]
	client := &http.Client{Timeout: 5 * time.Second}

	// The script: poll the gateway until it answers, then read stack.json.
	var unavailable int
	for {
		resp, err := client.Get(gw + "/ok")
		if err != nil {
			t.Fatalf("GET /ok while starting: %v (the gateway must answer, not hang)", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			b, err := os.ReadFile(stackJSON)
			var d stack.Description
			if err != nil || json.Unmarshal(b, &d) != nil || d.URLs.Gateway != gw || d.URLs.Control != ctl {
				t.Fatalf("the gateway answers but stack.json is %v %s", err, b)
			}
			break
		}
		var e struct{ Error, Message string }
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || json.Unmarshal(body, &e) != nil ||
			e.Error != "starting" || e.Message == "" {
			t.Fatalf("GET /ok while starting: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if unavailable++; unavailable == 1 {
			// The control port is gated the same way, and stack.json is not
			// there yet (the stale one is gone).
			resp, err := client.Post(ctl+"/schedules/none", "", nil)
			if err != nil {
				t.Fatalf("control while starting: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 503 {
				t.Errorf("control while starting: %d, want 503", resp.StatusCode)
			}
			if b, err := os.ReadFile(stackJSON); err == nil && bytes.Contains(b, []byte("127.0.0.1:1\"")) {
				t.Errorf("the previous run's stack.json is still there while starting")
			}
		}
		time.Sleep(20 * time.Millisecond) // the script's poll interval
	}
	if unavailable == 0 {
		t.Errorf("the gateway never answered 503 while the functions were built")
	}
	st := <-done
	if st.err != nil {
		t.Fatalf("start: %v", st.err)
	}
	s = st.s
	out := log.String()
	what := "2 functions for "
	if !strings.Contains(out, "building "+what) || !strings.Contains(out, "ApiFunction, ConsumerFunction") || !strings.Contains(out, "built "+what) {
		t.Errorf("no build progress in the log")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := os.Stat(stackJSON); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stack.json after Close: %v, want it removed", err)
	}
}

// Bodies too big for Lambda's 6 MB invoke payload get API Gateway's 413,
// never 502; a client that hangs up is not logged as an error.
func TestFixtureBodyLimitsAndClientGone(t *testing.T) {
	s, log := startFixture(t)
	gw := s.URLs.Gateway
	const MiB = 1 << 20
	for _, c := range []struct {
		size        int
		contentType string
		status      int
		body        string
	}{
		{59 * MiB / 10, "text/plain", 200, fmt.Sprintf(`{"bytes":%d,"base64":false}`, 59*MiB/10)},
		{65 * MiB / 10, "text/plain", 413, `{"message":"Request Entity Too Large"}`},
		{99 * MiB / 10, "application/octet-stream", 413, `{"message":"Request Entity Too Large"}`},
		{105 * MiB / 10, "text/plain", 413, `{"message":"Request Entity Too Large"}`},
	} {
		r := do(t, "POST", gw+"/upload", c.contentType, strings.Repeat("a", c.size))
		if r.status != c.status || r.body != c.body {
			t.Errorf("%.1f MiB %s: %d %.200s, want %d %s", float64(c.size)/MiB, c.contentType, r.status, r.body, c.status, c.body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", gw+"/slow", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /slow answered %d within 100ms", resp.StatusCode)
	}
	eventually(t, 10*time.Second, "the abandoned invocation to finish", func() bool {
		return strings.Contains(log.String(), "caller went away")
	})
	if out := log.String(); strings.Contains(out, "level=ERROR") {
		t.Errorf("the stack logged errors:\n%s", out)
	}
}

// makeSweep runs `make sweep` in dir with the repository's Makefile.
func makeSweep(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORT=") && !strings.HasPrefix(kv, "MAKE") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("make", append([]string{"-s", "-f", filepath.Join(stacktest.Root(t), "Makefile"), "-C", dir, "sweep"}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// make sweep fires the schedule on the running stack whatever its ports:
// the control URL comes from .local/stack.json, or from PORT when given.
func TestMakeSweepFindsTheRunningStack(t *testing.T) {
	dir := t.TempDir()
	s := stacktest.Start(t, stacktest.Options{StateDir: filepath.Join(dir, ".local")})
	out, err := makeSweep(t, dir)
	if err != nil || !strings.Contains(out, "POST "+s.URLs.Control+"/schedules/SweeperFunction.Sweep") || !strings.Contains(out, `"Examined"`) {
		t.Errorf("make sweep: %v\n%s", err, out)
	}

	// PORT=N means the stack whose gateway is on N: control on N+9.
	fired := make(chan string, 1)
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fired <- r.Method + " " + r.URL.Path
		_, _ = io.WriteString(w, `{"Examined":0}`)
	}))
	defer ctl.Close()
	port, _ := strconv.Atoi(ctl.URL[strings.LastIndex(ctl.URL, ":")+1:])
	if out, err := makeSweep(t, dir, "PORT="+strconv.Itoa(port-9)); err != nil {
		t.Errorf("make sweep PORT=%d: %v\n%s", port-9, err, out)
	}
	select {
	case got := <-fired:
		if got != "POST /schedules/SweeperFunction.Sweep" {
			t.Errorf("PORT=%d fired %s", port-9, got)
		}
	default:
		t.Errorf("make sweep PORT=%d did not reach PORT+9", port-9)
	}

	// No stack on that port: make sweep fails (curl's failure is not masked).
	if out, err := makeSweep(t, dir, "PORT=1"); err == nil {
		t.Errorf("make sweep against a closed port succeeded:\n%s", out)
	}

	// No stack: a clear message, not a curl error against a guessed port.
	out, err = makeSweep(t, t.TempDir())
	if err == nil || !strings.Contains(out, "no local stack is running") {
		t.Errorf("make sweep without a stack: %v\n%s", err, out)
	}
}
