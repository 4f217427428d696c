package lambdaemu

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("LAMBDAEMU_PARENT_ONLY", "leak")
	dir := t.TempDir()
	p := newTestPool(t, func(c *FunctionConfig) {
		c.Name = "pay-api"
		c.Dir = dir
		c.MemoryMB = 256
		c.Env = []string{"FOO=bar", "AWS_REGION=cn-north-1", "AWS_LAMBDA_FUNCTION_NAME=spoofed"}
	})
	want := map[string]string{
		"FOO":                             "bar",
		"AWS_REGION":                      "cn-north-1",
		"AWS_DEFAULT_REGION":              "cn-north-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "pay-api",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/pay-api",
		"LAMBDA_TASK_ROOT":                dir,
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
		"LAMBDAEMU_PARENT_ONLY":           "",
	}
	for name, v := range want {
		resp, _ := mustCall(t, p, map[string]any{"op": "env", "name": name})
		if resp.Text != v {
			t.Errorf("%s = %q, want %q", name, resp.Text, v)
		}
	}
	resp, _ := mustCall(t, p, map[string]any{"op": "env", "name": "AWS_LAMBDA_RUNTIME_API"})
	if !strings.HasPrefix(resp.Text, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q", resp.Text)
	}
	resp, _ = mustCall(t, p, map[string]any{"op": "env", "name": "AWS_LAMBDA_LOG_STREAM_NAME"})
	if !strings.Contains(resp.Text, "/[$LATEST]") {
		t.Errorf("log stream = %q", resp.Text)
	}
}

func TestProcessEnvDefaults(t *testing.T) {
	cfg := FunctionConfig{Name: "f", Binary: "/x/bootstrap", Env: []string{"TZ=Asia/Shanghai"}}.withDefaults()
	env := cfg.processEnv("127.0.0.1:1", "s")
	for key, want := range map[string]string{"AWS_REGION": DefaultRegion, "TZ": "Asia/Shanghai", "LAMBDA_TASK_ROOT": "/x", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"} {
		if got, _ := lookupEnv(env, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "TZ=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("TZ set %d times", n)
	}
	if arn := cfg.functionARN(); arn != "arn:aws:lambda:ap-southeast-1:123456789012:function:f" {
		t.Errorf("arn = %s", arn)
	}
}

func TestInitFailures(t *testing.T) {
	cases := []struct {
		mode, typ, msg string
	}{
		{"exit", "Runtime.ExitError", "Runtime exited with error: exit status 1"},
		{"report", "Runtime.ConfigError", "config missing"},
		{"hang", "Sandbox.Timedout", "Task timed out after 0.30 seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			p := newTestPool(t, func(c *FunctionConfig) {
				c.Env = []string{"FIXTURE_INIT=" + tc.mode}
				c.InitTimeout = 300 * time.Millisecond
			})
			_, info, err := call(t, p, map[string]any{"op": "echo"})
			var re *RuntimeError
			if !errors.As(err, &re) || !errors.Is(err, ErrInitFailed) {
				t.Fatalf("err = %v, want init failure", err)
			}
			if re.Type != tc.typ || !strings.Contains(re.Message, tc.msg) || !info.Cold {
				t.Errorf("error = %+v info %+v", re, info)
			}
			// The failed instance is gone: its slot is free again.
			waitFor(t, func() bool {
				p.mu.Lock()
				defer p.mu.Unlock()
				return p.count == 0 && len(p.live) == 0
			})
		})
	}
}

func TestCloseKillsEverything(t *testing.T) {
	p := newTestPool(t, nil)
	spawn, _ := mustCall(t, p, map[string]any{"op": "spawn"})
	child, err := strconv.Atoi(spawn.Text)
	if err != nil {
		t.Fatal(err)
	}
	if processGone(child) {
		t.Fatalf("spawned child %d is not running", child)
	}
	url, arrived, _ := blockingServer(t)
	blocked := make(chan error, 1)
	pids := make(chan int, 1)
	go func() {
		resp, _, err := call(t, p, map[string]any{"op": "wait", "url": url})
		pids <- resp.PID
		blocked <- err
	}()
	<-arrived // a second instance is busy in its handler
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, ErrCrashed) {
		t.Errorf("in-flight invoke err = %v", err)
	}
	if !processGone(spawn.PID) {
		t.Errorf("function process %d survived Close", spawn.PID)
	}
	waitGone(t, child) // reparented grandchild: killed with the group
	p.mu.Lock()
	n := len(p.live)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d instances live after Close", n)
	}
	if _, _, err := p.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("invoke after close: %v", err)
	}
}

func TestCloseStopsEveryInstance(t *testing.T) {
	p := newTestPool(t, nil)
	url, arrived, release := blockingServer(t)
	done := make(chan fixtureResp, 3)
	for range 3 {
		go func() {
			r, _, _ := call(t, p, map[string]any{"op": "wait", "url": url})
			done <- r
		}()
	}
	<-arrived
	<-arrived
	<-arrived
	release()
	var pids []int
	for range 3 {
		pids = append(pids, (<-done).PID)
	}
	p.Close()
	for _, pid := range pids {
		if pid == 0 || !processGone(pid) {
			t.Errorf("process %d survived Close", pid)
		}
	}
}

func TestOutputIsPrefixedAndReported(t *testing.T) {
	var out syncBuffer
	p := NewPool(FunctionConfig{Name: "notify", Binary: fixtureBin, Output: &out})
	_, info := mustCall(t, p, map[string]any{"op": "print", "text": "hello"})
	p.Close()
	got := out.String()
	for _, want := range []string{
		"[notify] hello\n",
		"[notify] err:hello\n",
		"[notify] START RequestId: " + info.RequestID + " Version: $LATEST\n",
		"[notify] END RequestId: " + info.RequestID + "\n",
		"[notify] REPORT RequestId: " + info.RequestID + "\tDuration: ",
		"\tInit Duration: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for line := range strings.Lines(got) {
		if !strings.HasPrefix(line, "[notify] ") {
			t.Errorf("unprefixed line %q", line)
		}
	}
}

func TestPoolsInvoker(t *testing.T) {
	ps := Pools{"a": NewPool(FunctionConfig{Name: "a", Binary: fixtureBin})}
	t.Cleanup(func() { ps.Close() })
	out, err := ps.Invoke(context.Background(), "a", []byte(`{"op":"echo","text":"x"}`))
	if err != nil || !strings.Contains(string(out), `"text":"x"`) {
		t.Errorf("invoke a: %s %v", out, err)
	}
	if _, err := ps.Invoke(context.Background(), "missing", nil); err == nil {
		t.Error("missing function invoked")
	}
}

func TestMissingBinary(t *testing.T) {
	p := NewPool(FunctionConfig{Name: "x", Binary: filepath.Join(t.TempDir(), "nope")})
	defer p.Close()
	if _, _, err := p.Invoke(context.Background(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "start x") {
		t.Fatalf("err = %v", err)
	}
	p.mu.Lock()
	n := p.count
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("slot leaked: count %d", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtimeYield()
	}
}
