package lambdaemu

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// instance is one execution environment: a bootstrap process and the
// Runtime API listener that only it uses.
type instance struct {
	id   int
	pool *Pool
	cfg  FunctionConfig
	arn  string
	log  *lineWriter
	ln   net.Listener
	srv  *http.Server
	cmd  *exec.Cmd

	next    chan *invocation // hands an invocation to a waiting GET /next
	ready   chan struct{}    // closed at the first GET /next
	initErr chan errorDoc    // POST /runtime/init/error (buffered 1)
	exited  chan struct{}    // closed once the process has been reaped
	exitErr error            // how the process ended; read after exited

	readyOnce sync.Once
	startedAt time.Time

	mu      sync.Mutex
	started bool
	killed  bool
	current *invocation // the invocation handed out by the latest /next
}

// invocation is one request travelling through an instance.
type invocation struct {
	id       string
	payload  []byte
	traceID  string
	deadline time.Time
	done     chan result // buffered 1; receives exactly one result
	answered bool        // guarded by instance.mu
}

// result is what the runtime posted for an invocation.
type result struct {
	body []byte
	err  *FunctionError
}

func newInvocation(payload []byte) *invocation {
	return &invocation{
		id:      newRequestID(),
		payload: payload,
		traceID: newTraceID(time.Now()),
		done:    make(chan result, 1),
	}
}

// newInstance prepares (but does not start) instance id of p.
func newInstance(p *Pool, id int) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdaemu: runtime API listener: %w", err)
	}
	in := &instance{
		id:      id,
		pool:    p,
		cfg:     p.cfg,
		arn:     p.cfg.functionARN(),
		log:     newLineWriter(p.cfg.Output, "["+p.cfg.Name+"] "),
		ln:      ln,
		next:    make(chan *invocation),
		ready:   make(chan struct{}),
		initErr: make(chan errorDoc, 1),
		exited:  make(chan struct{}),
	}
	in.srv = &http.Server{Handler: in.routes(), ReadHeaderTimeout: 10 * time.Second}

	cmd := exec.Command(p.cfg.Binary)
	cmd.Dir = p.cfg.Dir
	cmd.Env = p.cfg.processEnv(ln.Addr().String(), newLogStream(time.Now()))
	cmd.SysProcAttr = sysProcAttr()
	in.cmd = cmd
	return in, nil
}

// start execs the process and begins serving the Runtime API. On success a
// goroutine reaps the process and then calls done; on failure done is not
// called and the listener is closed.
func (in *instance) start(done func()) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.killed {
		in.ln.Close()
		return ErrClosed
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		in.ln.Close()
		return err
	}
	in.cmd.Stdout = pw
	in.cmd.Stderr = pw
	in.startedAt = time.Now()
	if err := in.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		in.ln.Close()
		return fmt.Errorf("lambdaemu: start %s: %w", in.cfg.Name, err)
	}
	pw.Close() // the child holds its own copy
	in.started = true

	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = in.srv.Serve(in.ln) // returns http.ErrServerClosed from Close
	}()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(in.log, pr)
		pr.Close()
		in.log.Flush()
	}()
	go func() {
		defer done()
		err := in.cmd.Wait()
		killGroup(in.cmd.Process.Pid) // anything the function left behind
		<-copied
		in.exitErr = err
		close(in.exited)
		in.srv.Close()
		<-served
	}()
	return nil
}

// kill terminates the process group (or prevents the start). It does not
// wait; exited is closed once the process is gone.
func (in *instance) kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.killed {
		return
	}
	in.killed = true
	if in.started && !isClosed(in.exited) {
		killGroup(in.cmd.Process.Pid)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// exitMessage describes how the process ended, as Lambda does.
func (in *instance) exitMessage(requestID string) string {
	if in.exitErr == nil {
		return "RequestId: " + requestID + " Error: Runtime exited without providing a reason"
	}
	return "RequestId: " + requestID + " Error: Runtime exited with error: " + in.exitErr.Error()
}

// waitReady waits for the first GET /next. On failure the instance is
// killed and a *RuntimeError of KindInit returned.
func (in *instance) waitReady(requestID string) (time.Duration, error) {
	t := time.NewTimer(in.cfg.InitTimeout)
	defer t.Stop()
	var fail *RuntimeError
	select {
	case <-in.ready:
		return time.Since(in.startedAt), nil
	case doc := <-in.initErr:
		fail = in.initFailure(requestID, doc)
	case <-in.exited:
		select {
		case doc := <-in.initErr: // reported, then exited
			fail = in.initFailure(requestID, doc)
		default:
			fail = &RuntimeError{RequestID: requestID, Kind: KindInit, Type: "Runtime.ExitError", Message: in.exitMessage(requestID)}
		}
	case <-t.C:
		in.kill()
		fail = &RuntimeError{RequestID: requestID, Kind: KindInit, Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", requestID, in.cfg.InitTimeout.Seconds())}
	}
	in.log.Line(fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: error\tError Type: %s",
		msec(time.Since(in.startedAt)), fail.Type))
	return 0, fail
}

// initFailure kills the instance after a /runtime/init/error report.
func (in *instance) initFailure(requestID string, doc errorDoc) *RuntimeError {
	in.kill()
	if doc.Type == "" {
		doc.Type = "Runtime.InitError"
	}
	return &RuntimeError{RequestID: requestID, Kind: KindInit, Type: doc.Type, Message: doc.Message}
}

func msec(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).

const (
	hdrRequestID   = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline    = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID     = "Lambda-Runtime-Trace-Id"
	hdrErrorType   = "Lambda-Runtime-Function-Error-Type"
	hdrErrorBody   = "Lambda-Runtime-Function-Error-Body" // trailer, base64 JSON
)

func (in *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", in.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", in.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", in.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", in.handleInitError)
	return mux
}

func (in *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	in.readyOnce.Do(func() { close(in.ready) })
	select {
	case inv := <-in.next:
		in.mu.Lock()
		in.current = inv
		in.mu.Unlock()
		h := w.Header()
		h.Set(hdrRequestID, inv.id)
		h.Set(hdrDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(hdrFunctionARN, in.arn)
		h.Set(hdrTraceID, inv.traceID)
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload) // a broken connection surfaces as exit or timeout
	case <-r.Context().Done():
	}
}

// lookup returns the current invocation if it has id and is unanswered.
func (in *instance) lookup(id string) (*invocation, int, errorDoc) {
	in.mu.Lock()
	defer in.mu.Unlock()
	inv := in.current
	switch {
	case inv == nil || inv.id != id:
		return nil, http.StatusBadRequest, errorDoc{Type: "InvalidRequestID", Message: "Invalid request ID"}
	case inv.answered:
		return nil, http.StatusForbidden, errorDoc{Type: "InvalidStateTransition", Message: "Response for request ID already sent"}
	}
	return inv, 0, errorDoc{}
}

// answer delivers the one result of inv; false if it was already answered.
func (in *instance) answer(inv *invocation, res result) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if inv.answered {
		return false
	}
	inv.answered = true
	inv.done <- res
	return true
}

func (in *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv, status, doc := in.lookup(r.PathValue("id"))
	if inv == nil {
		writeJSON(w, status, doc)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	var res result
	switch {
	case err != nil:
		res.err = functionError(inv.id, "Runtime.ResponseError", "failed to read the function response: "+err.Error(), nil)
	case len(body) > MaxPayloadBytes:
		res.err = functionError(inv.id, "Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadBytes), nil)
	case r.Trailer.Get(hdrErrorType) != "":
		// The runtime failed while streaming the response and said so in
		// trailers (aws-lambda-go does this for failing io.Readers).
		res.err = trailerError(inv.id, r.Trailer)
	default:
		res.body = body
	}
	if !in.answer(inv, res) {
		writeJSON(w, http.StatusForbidden, errorDoc{Type: "InvalidStateTransition", Message: "Response for request ID already sent"})
		return
	}
	if res.err != nil && res.err.Type == "Function.ResponseSizeTooLarge" {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorDoc{Type: "RequestEntityTooLarge", Message: res.err.Message})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

func (in *instance) handleError(w http.ResponseWriter, r *http.Request) {
	inv, status, doc := in.lookup(r.PathValue("id"))
	if inv == nil {
		writeJSON(w, status, doc)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes))
	fe := parseErrorBody(inv.id, body, r.Header.Get(hdrErrorType))
	if !in.answer(inv, result{err: fe}) {
		writeJSON(w, http.StatusForbidden, errorDoc{Type: "InvalidStateTransition", Message: "Response for request ID already sent"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

func (in *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes))
	fe := parseErrorBody("", body, r.Header.Get(hdrErrorType))
	select {
	case in.initErr <- errorDoc{Type: fe.Type, Message: fe.Message}:
	default: // only the first report counts
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}
