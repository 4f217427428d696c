package lambdaemu

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// runtimeAPI serves one unstarted instance's Runtime API for direct tests.
func runtimeAPI(t *testing.T) (*instance, string) {
	t.Helper()
	p := NewPool(FunctionConfig{Name: "direct", Binary: "/nonexistent", Env: []string{"AWS_REGION=cn-north-1"}})
	in, err := newInstance(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	in.ln.Close() // served by httptest instead
	srv := httptest.NewServer(in.routes())
	t.Cleanup(srv.Close)
	return in, srv.URL + "/2018-06-01/runtime/"
}

// next performs GET /next while the test hands inv over.
func next(t *testing.T, in *instance, base string, inv *invocation) *http.Response {
	t.Helper()
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get(base + "invocation/next")
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	inv.deadline = time.UnixMilli(1_700_000_000_123)
	in.next <- inv
	resp := <-got
	if resp == nil {
		t.FailNow()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func post(t *testing.T, url, body string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRuntimeAPIProtocol(t *testing.T) {
	in, base := runtimeAPI(t)
	inv := newInvocation([]byte(`{"k":1}`))
	resp := next(t, in, base, inv)
	h := resp.Header
	if h.Get("Lambda-Runtime-Aws-Request-Id") != inv.id || h.Get("Lambda-Runtime-Deadline-Ms") != "1700000000123" ||
		h.Get("Lambda-Runtime-Invoked-Function-Arn") != "arn:aws:lambda:cn-north-1:123456789012:function:direct" ||
		!strings.HasPrefix(h.Get("Lambda-Runtime-Trace-Id"), "Root=1-") {
		t.Errorf("next headers = %v", h)
	}
	if !isClosed(in.ready) {
		t.Error("first /next did not mark the instance ready")
	}

	if code := post(t, base+"invocation/bogus/response", "{}", nil); code != http.StatusBadRequest {
		t.Errorf("unknown id: %d", code)
	}
	if code := post(t, base+"invocation/"+inv.id+"/response", `"ok"`, nil); code != http.StatusAccepted {
		t.Errorf("response: %d", code)
	}
	if res := <-inv.done; string(res.body) != `"ok"` || res.err != nil {
		t.Errorf("result = %+v", res)
	}
	if code := post(t, base+"invocation/"+inv.id+"/error", `{}`, nil); code != http.StatusForbidden {
		t.Errorf("second answer: %d", code)
	}
}

func TestRuntimeAPIErrors(t *testing.T) {
	in, base := runtimeAPI(t)

	inv := newInvocation([]byte(`{}`))
	next(t, in, base, inv)
	post(t, base+"invocation/"+inv.id+"/error", "plain text failure", map[string]string{"Lambda-Runtime-Function-Error-Type": "Custom.Failure"})
	if res := <-inv.done; res.err == nil || res.err.Type != "Custom.Failure" || res.err.Message != "plain text failure" ||
		!strings.Contains(string(res.err.Payload), `"errorType":"Custom.Failure"`) {
		t.Errorf("non-JSON error = %+v", res.err)
	}

	// A response whose body failed mid-stream carries the error in trailers.
	inv = newInvocation([]byte(`{}`))
	next(t, in, base, inv)
	req, _ := http.NewRequest("POST", base+"invocation/"+inv.id+"/response", io.MultiReader(strings.NewReader("partial")))
	req.ContentLength = -1
	req.Trailer = http.Header{
		"Lambda-Runtime-Function-Error-Type": {"readerError"},
		"Lambda-Runtime-Function-Error-Body": {base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"disk gone","errorType":"readerError"}`))},
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if res := <-inv.done; res.err == nil || res.err.Type != "readerError" || res.err.Message != "disk gone" {
		t.Errorf("trailer error = %+v", res.err)
	}

	if code := post(t, base+"init/error", `{"errorMessage":"bad config","errorType":"Runtime.X"}`, nil); code != http.StatusAccepted {
		t.Errorf("init error: %d", code)
	}
	if doc := <-in.initErr; doc.Type != "Runtime.X" || doc.Message != "bad config" {
		t.Errorf("init error doc = %+v", doc)
	}
}

func TestCallerCancelLetsInvocationFinish(t *testing.T) {
	p := newTestPool(t, nil)
	url, arrived, release := blockingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := callCtx(t, ctx, p, map[string]any{"op": "wait", "url": url})
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	release()
	// The invocation completes in the background and its instance returns
	// to the idle set, like a Lambda invocation whose caller went away.
	waitFor(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle) == 1
	})
	_, info := mustCall(t, p, map[string]any{"op": "echo"})
	if info.Cold || info.Instance != 1 {
		t.Errorf("info = %+v, want warm instance 1", info)
	}
}

func TestStuckRuntimeTimesOutBeforeHandoff(t *testing.T) {
	p := NewPool(FunctionConfig{Name: "stuck", Binary: "/nonexistent", Timeout: 50 * time.Millisecond})
	in, err := newInstance(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer in.ln.Close()
	// An idle instance whose runtime never calls /next again.
	p.count, p.idle = 1, []*instance{in}
	_, info, err := p.Invoke(context.Background(), []byte(`{}`))
	if !errors.Is(err, ErrTimedOut) || info.Instance != 1 || info.Cold {
		t.Fatalf("err = %v info %+v", err, info)
	}
	in.mu.Lock()
	killed := in.killed
	in.mu.Unlock()
	if !killed {
		t.Error("stuck instance not discarded")
	}
}
