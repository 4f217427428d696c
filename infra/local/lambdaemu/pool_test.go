package lambdaemu

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEchoRoundTripIsCold(t *testing.T) {
	p := newTestPool(t, nil)
	resp, info := mustCall(t, p, map[string]any{"op": "echo", "text": "你好"})
	if resp.Text != "你好" {
		t.Errorf("text = %q", resp.Text)
	}
	if !info.Cold || info.Instance != 1 || info.InitDuration <= 0 || info.Duration <= 0 {
		t.Errorf("info = %+v, want cold instance 1 with durations", info)
	}
	if !uuidRE.MatchString(info.RequestID) {
		t.Errorf("request id %q is not a UUID", info.RequestID)
	}
}

func TestWarmReuse(t *testing.T) {
	p := newTestPool(t, nil)
	r1, i1 := mustCall(t, p, map[string]any{"op": "echo"})
	r2, i2 := mustCall(t, p, map[string]any{"op": "echo"})
	if i2.Cold || i2.InitDuration != 0 {
		t.Errorf("second invoke cold: %+v", i2)
	}
	if i1.Instance != i2.Instance || r1.PID != r2.PID {
		t.Errorf("not reused: instances %d/%d pids %d/%d", i1.Instance, i2.Instance, r1.PID, r2.PID)
	}
	if i1.RequestID == i2.RequestID {
		t.Error("request ids repeat")
	}
}

func TestHandlerErrorKeepsInstance(t *testing.T) {
	p := newTestPool(t, nil)
	r1, _ := mustCall(t, p, map[string]any{"op": "echo"})
	_, info, err := call(t, p, map[string]any{"op": "error", "text": "card declined"})
	var fe *FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %#v, want *FunctionError", err)
	}
	if fe.Type != "fixtureError" || fe.Message != "card declined" || !fe.Handled() {
		t.Errorf("function error = %+v", fe)
	}
	if fe.RequestID != info.RequestID || !strings.Contains(string(fe.Payload), `"errorType":"fixtureError"`) {
		t.Errorf("request id %q vs %q, payload %s", fe.RequestID, info.RequestID, fe.Payload)
	}
	r2, i2 := mustCall(t, p, map[string]any{"op": "echo"})
	if i2.Cold || r2.PID != r1.PID {
		t.Errorf("instance not kept after handler error: %+v pid %d vs %d", i2, r2.PID, r1.PID)
	}
}

func TestCrashReplacesInstance(t *testing.T) {
	p := newTestPool(t, nil)
	r1, i1 := mustCall(t, p, map[string]any{"op": "echo"})
	_, _, err := call(t, p, map[string]any{"op": "crash"})
	var re *RuntimeError
	if !errors.As(err, &re) || !errors.Is(err, ErrCrashed) || errors.Is(err, ErrTimedOut) {
		t.Fatalf("err = %v, want crash RuntimeError", err)
	}
	if re.Type != "Runtime.ExitError" || !strings.Contains(re.Message, "Runtime exited with error: exit status 3") || re.Handled() {
		t.Errorf("runtime error = %+v", re)
	}
	waitGone(t, r1.PID)
	r2, i2 := mustCall(t, p, map[string]any{"op": "echo"})
	if !i2.Cold || i2.Instance == i1.Instance || r2.PID == r1.PID {
		t.Errorf("after crash: %+v pid %d (old instance %d pid %d)", i2, r2.PID, i1.Instance, r1.PID)
	}
}

func TestPanicReportsErrorAndRestarts(t *testing.T) {
	p := newTestPool(t, nil)
	r1, _ := mustCall(t, p, map[string]any{"op": "echo"})
	_, _, err := call(t, p, map[string]any{"op": "panic", "text": "boom"})
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Message != "boom" || fe.Type != "string" {
		t.Fatalf("err = %#v, want FunctionError boom", err)
	}
	// aws-lambda-go exits after reporting a panic: the next invoke is cold.
	r2, i2 := mustCall(t, p, map[string]any{"op": "echo"})
	if !i2.Cold || r2.PID == r1.PID {
		t.Errorf("after panic: %+v pid %d vs %d", i2, r2.PID, r1.PID)
	}
}

func TestTimeoutKillsAndReplaces(t *testing.T) {
	p := newTestPool(t, func(c *FunctionConfig) { c.Timeout = 300 * time.Millisecond })
	r1, i1 := mustCall(t, p, map[string]any{"op": "echo"})
	start := time.Now()
	_, _, err := call(t, p, map[string]any{"op": "block"})
	var re *RuntimeError
	if !errors.As(err, &re) || !errors.Is(err, ErrTimedOut) {
		t.Fatalf("err = %v, want timeout", err)
	}
	if !strings.Contains(re.Message, "Task timed out after 0.30 seconds") {
		t.Errorf("message = %q", re.Message)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("timed out after %v, before the timeout", el)
	}
	waitGone(t, r1.PID)
	r2, i2 := mustCall(t, p, map[string]any{"op": "echo"})
	if !i2.Cold || i2.Instance == i1.Instance || r2.PID == r1.PID {
		t.Errorf("not replaced: %+v", i2)
	}
}

func TestDeadlineHeader(t *testing.T) {
	p := newTestPool(t, func(c *FunctionConfig) { c.Timeout = 7 * time.Second })
	mustCall(t, p, map[string]any{"op": "echo"}) // exclude init
	before := time.Now().Add(7 * time.Second).UnixMilli()
	resp, _ := mustCall(t, p, map[string]any{"op": "deadline"})
	after := time.Now().Add(7 * time.Second).UnixMilli()
	dl, err := strconv.ParseInt(resp.Text, 10, 64)
	if err != nil || dl < before || dl > after {
		t.Errorf("deadline %s not in [%d, %d]", resp.Text, before, after)
	}
}

// blockingServer answers each request only once release is closed and
// reports every arrival on arrived.
func blockingServer(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	t.Helper()
	arr := make(chan struct{}, 16)
	rel := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr <- struct{}{}
		select {
		case <-rel:
		case <-r.Context().Done():
		}
		w.Write([]byte("released"))
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(func() { release(); srv.Close() })
	return srv.URL, arr, release
}

func TestConcurrentInvokesUseSeparateInstances(t *testing.T) {
	p := newTestPool(t, nil)
	url, arrived, release := blockingServer(t)
	type res struct {
		resp fixtureResp
		info InvokeInfo
		err  error
	}
	results := make(chan res, 2)
	for range 2 {
		go func() {
			r, i, err := call(t, p, map[string]any{"op": "wait", "url": url})
			results <- res{r, i, err}
		}()
	}
	// Both invocations are inside handlers at the same time.
	<-arrived
	<-arrived
	release()
	a, b := <-results, <-results
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	if a.resp.Text != "released" || !a.info.Cold || !b.info.Cold {
		t.Errorf("results %+v %+v", a, b)
	}
	if a.info.Instance == b.info.Instance || a.resp.PID == b.resp.PID {
		t.Errorf("same instance used concurrently: %+v %+v", a, b)
	}
}

func TestMaxInstancesQueues(t *testing.T) {
	p := newTestPool(t, func(c *FunctionConfig) { c.MaxInstances = 1 })
	url, arrived, release := blockingServer(t)
	first := make(chan error, 1)
	go func() {
		_, _, err := call(t, p, map[string]any{"op": "wait", "url": url})
		first <- err
	}()
	<-arrived

	// A queued invocation gives up with its context.
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, _, err := callCtx(t, ctx, p, map[string]any{"op": "echo"})
		queued <- err
	}()
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("queued invoke err = %v", err)
	}

	// Another waits and then runs on the same, only, instance.
	second := make(chan InvokeInfo, 1)
	go func() {
		_, info := mustCall(t, p, map[string]any{"op": "echo"})
		second <- info
	}()
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if info := <-second; info.Cold || info.Instance != 1 {
		t.Errorf("second = %+v, want warm instance 1", info)
	}
}

func TestPayloadTooLarge(t *testing.T) {
	p := newTestPool(t, nil)
	_, _, err := p.Invoke(context.Background(), make([]byte, MaxPayloadBytes+1))
	if !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("err = %v", err)
	}
	// The gateway answers 413 for it (not 502): it must say so, with the size.
	var tl *PayloadTooLargeError
	if !errors.As(err, &tl) || !tl.RequestEntityTooLarge() || tl.Size != MaxPayloadBytes+1 || tl.RequestID == "" {
		t.Errorf("err = %#v, want a *PayloadTooLargeError for %d bytes", err, MaxPayloadBytes+1)
	}
	p.mu.Lock()
	n := p.count
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d instances started for a rejected payload", n)
	}
}

func TestResponseTooLarge(t *testing.T) {
	p := newTestPool(t, nil)
	_, _, err := call(t, p, map[string]any{"op": "big", "size": MaxPayloadBytes})
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Function.ResponseSizeTooLarge" {
		t.Fatalf("err = %v", err)
	}
}
