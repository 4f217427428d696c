package lambdaemu

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// InvokeInfo describes how an invocation ran.
type InvokeInfo struct {
	RequestID    string
	Cold         bool          // a new instance was started for it
	InitDuration time.Duration // exec until first /next; only when Cold
	Duration     time.Duration // invocation handed out until result
	Instance     int           // 1-based instance number within the pool
}

// Pool runs invocations of one function on up to MaxInstances instances.
type Pool struct {
	cfg FunctionConfig

	mu      sync.Mutex
	closed  bool
	count   int // instances alive or being started
	nextID  int
	idle    []*instance
	live    map[*instance]struct{}
	changed chan struct{} // closed and replaced whenever capacity may have freed

	wg sync.WaitGroup // one per started instance, done when reaped
}

// NewPool returns a pool for cfg. No process starts until the first Invoke.
func NewPool(cfg FunctionConfig) *Pool {
	return &Pool{
		cfg:     cfg.withDefaults(),
		live:    make(map[*instance]struct{}),
		changed: make(chan struct{}),
	}
}

// Config returns the pool's configuration with defaults applied.
func (p *Pool) Config() FunctionConfig { return p.cfg }

// Invoke runs one synchronous invocation and blocks until its response.
// payload should be JSON. Errors: *FunctionError when the function reported
// an error; *RuntimeError on crash, timeout or init failure;
// *PayloadTooLargeError; ErrClosed, or ctx.Err(). When ctx ends first the
// invocation still completes in the background (as in Lambda) and its
// instance is reused afterwards. When all MaxInstances instances are busy, Invoke waits
// for one to become free.
func (p *Pool) Invoke(ctx context.Context, payload []byte) ([]byte, InvokeInfo, error) {
	inv := newInvocation(payload)
	if len(payload) > MaxPayloadBytes {
		return nil, InvokeInfo{RequestID: inv.id}, &PayloadTooLargeError{RequestID: inv.id, Size: len(payload)}
	}
	ch := make(chan outcome, 1)
	go func() { ch <- p.run(ctx, inv) }()
	select {
	case o := <-ch:
		return o.body, o.info, o.err
	case <-ctx.Done():
		return nil, InvokeInfo{RequestID: inv.id}, ctx.Err()
	}
}

type outcome struct {
	body []byte
	info InvokeInfo
	err  error
}

// maxHandoffAttempts bounds retries when an idle instance turns out to
// have died before it could take the invocation.
const maxHandoffAttempts = 3

func (p *Pool) run(ctx context.Context, inv *invocation) outcome {
	for attempt := 1; ; attempt++ {
		in, cold, err := p.acquire(ctx)
		info := InvokeInfo{RequestID: inv.id, Cold: cold}
		if err != nil {
			return outcome{info: info, err: err}
		}
		info.Instance = in.id
		if cold {
			d, err := in.waitReady(inv.id)
			if err != nil {
				return outcome{info: info, err: err}
			}
			info.InitDuration = d
			if err := ctx.Err(); err != nil {
				p.release(in)
				return outcome{info: info, err: err}
			}
		}
		o, handedOff := p.execute(in, inv, info)
		if handedOff || attempt == maxHandoffAttempts {
			return o
		}
	}
}

// acquire returns an idle instance, or a newly started one (cold), waiting
// for capacity when MaxInstances are busy.
func (p *Pool) acquire(ctx context.Context) (*instance, bool, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, ErrClosed
		}
		if n := len(p.idle); n > 0 {
			in := p.idle[n-1] // most recently used first
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			return in, false, nil
		}
		if p.count < p.cfg.MaxInstances {
			p.count++
			p.nextID++
			id := p.nextID
			p.mu.Unlock()
			in, err := p.startInstance(id)
			if err != nil {
				return nil, true, err
			}
			return in, true, nil
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// startInstance starts instance id, whose slot acquire has reserved.
func (p *Pool) startInstance(id int) (*instance, error) {
	in, err := newInstance(p, id)
	if err != nil {
		p.freeSlot()
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		in.ln.Close()
		p.freeSlot()
		return nil, ErrClosed
	}
	p.live[in] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	if err := in.start(func() { p.gone(in); p.wg.Done() }); err != nil {
		p.gone(in)
		p.wg.Done()
		return nil, err
	}
	return in, nil
}

func (p *Pool) freeSlot() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count--
	p.notifyLocked()
}

// gone forgets an instance whose process has ended (or never started).
func (p *Pool) gone(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, in)
	for i, x := range p.idle {
		if x == in {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	p.count--
	p.notifyLocked()
}

// release returns a healthy instance to the idle set.
func (p *Pool) release(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || isClosed(in.exited) {
		return // gone (or Close) does the accounting
	}
	p.idle = append(p.idle, in)
	p.notifyLocked()
}

func (p *Pool) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// execute hands inv to in and waits for its result, timeout or crash.
// handedOff is false when in died before taking inv (nothing ran).
func (p *Pool) execute(in *instance, inv *invocation, info InvokeInfo) (o outcome, handedOff bool) {
	o.info = info
	inv.deadline = time.Now().Add(p.cfg.Timeout)
	// A warm runtime asks for its next invocation right after answering the
	// previous one; one that never does is stuck and counts as timed out.
	handoff := time.NewTimer(p.cfg.Timeout)
	defer handoff.Stop()
	select {
	case in.next <- inv:
	case <-in.exited:
		return o, false
	case <-handoff.C:
		in.kill()
		o.err = &RuntimeError{RequestID: inv.id, Kind: KindTimeout, Type: "Sandbox.Timedout",
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, p.cfg.Timeout.Seconds())}
		return o, true
	}
	start := time.Now()
	in.log.Line("START RequestId: " + inv.id + " Version: $LATEST")
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()

	var res result
	var rerr *RuntimeError
	select {
	case res = <-inv.done:
	case <-in.exited:
		select {
		case res = <-inv.done: // answered just before exiting
		default:
			rerr = &RuntimeError{RequestID: inv.id, Kind: KindCrash, Type: "Runtime.ExitError", Message: in.exitMessage(inv.id)}
		}
	case <-timer.C:
		select {
		case res = <-inv.done:
		default:
			in.kill()
			msg := fmt.Sprintf("Task timed out after %.2f seconds", p.cfg.Timeout.Seconds())
			in.log.Line(time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + inv.id + " " + msg)
			rerr = &RuntimeError{RequestID: inv.id, Kind: KindTimeout, Type: "Sandbox.Timedout",
				Message: "RequestId: " + inv.id + " Error: " + msg}
		}
	}
	o.info.Duration = time.Since(start)
	p.report(in, inv, o.info)
	switch {
	case rerr != nil:
		in.kill() // discarded; gone() frees the slot once reaped
		o.err = rerr
	case res.err != nil:
		p.release(in)
		o.err = res.err
	default:
		p.release(in)
		o.body = res.body
	}
	return o, true
}

func (p *Pool) report(in *instance, inv *invocation, info InvokeInfo) {
	in.log.Line("END RequestId: " + inv.id)
	billed := (info.Duration + time.Millisecond - 1) / time.Millisecond
	line := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		inv.id, msec(info.Duration), billed, p.cfg.MemoryMB, maxMemoryMB(in.cmd.Process.Pid))
	if info.Cold {
		line += fmt.Sprintf("\tInit Duration: %.2f ms", msec(info.InitDuration))
	}
	in.log.Line(line)
}

// Close kills every instance process (with anything it spawned) and waits
// until all are reaped. Invocations in flight fail with a *RuntimeError;
// later Invoke calls return ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.idle = nil
	live := make([]*instance, 0, len(p.live))
	for in := range p.live {
		live = append(live, in)
	}
	p.notifyLocked()
	p.mu.Unlock()
	for _, in := range live {
		in.kill()
	}
	p.wg.Wait()
	return nil
}
