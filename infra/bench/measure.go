package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/estatepay/estatepay/infra/local/lambdaemu"
	"github.com/estatepay/estatepay/shared/domain"
)

// send sends a request built by mk and returns status and body.
func (b *bench) send(ctx context.Context, mk func(context.Context) (*http.Request, error)) (int, []byte, error) {
	req, err := mk(ctx)
	if err != nil {
		return 0, nil, err
	}
	status, body, _, err := b.do(req)
	return status, body, err
}

// measureCold starts a fresh pool per sample for every function and the
// baseline, and times exec → first response of its representative request
// (the event the gateway would send). Samples rotate over the functions.
func (b *bench) measureCold(ctx context.Context) error {
	type target struct {
		r        *fnResult
		cfg      lambdaemu.FunctionConfig
		payload  []byte
		check    func(int, []byte) error
		checkRaw func([]byte) error
		wall     []time.Duration
		init     []time.Duration
		handler  []time.Duration
		rest     []time.Duration // wall - handler: the cold start without the request's own work
		calls    map[string]int64
	}
	var targets []*target
	seen := map[string]bool{}
	for _, p := range b.probes() {
		if seen[p.function] {
			continue
		}
		seen[p.function] = true
		r := b.fn(p.function)
		if r == nil {
			return fmt.Errorf("probe for unknown function %s", p.function)
		}
		cfg, err := b.functionConfig(p.function)
		if err != nil {
			return err
		}
		t := &target{r: r, cfg: cfg, check: p.check, payload: p.payload, checkRaw: p.checkRaw}
		if p.invoke != nil {
			t.payload = p.invoke
		} else if p.schedule == "" {
			req, err := p.request(ctx)
			if err != nil {
				return err
			}
			fn, payload, err := b.recorder.Event(req)
			if err != nil {
				return err
			}
			if fn != p.function {
				return fmt.Errorf("%s routes to %s, not %s", p.name, fn, p.function)
			}
			t.payload = payload
		}
		r.ColdRequest = p.name
		targets = append(targets, t)
	}
	for i := 0; i < b.cfg.Cold; i++ {
		for _, t := range targets {
			cs, err := coldOnce(ctx, t.cfg, t.payload, t.check, t.checkRaw, t.r.ID != helloID)
			if err != nil {
				return fmt.Errorf("%s cold sample %d: %w", t.r.ID, i+1, err)
			}
			t.wall, t.init = append(t.wall, cs.wall), append(t.init, cs.init)
			if cs.metrics != nil {
				h := time.Duration(cs.metrics.HandlerMillis * float64(time.Millisecond))
				t.handler, t.rest = append(t.handler, h), append(t.rest, cs.wall-h)
				t.calls = cs.metrics.Calls
			}
		}
	}
	for _, t := range targets {
		t.r.Cold, t.r.Init, t.r.ColdHandler, t.r.ColdCalls = Summarize(t.wall), Summarize(t.init), Summarize(t.handler), t.calls
		if t.r.ID == helloID {
			t.r.ColdRest = t.r.Cold // the baseline's handler does no work
		} else {
			t.r.ColdRest = Summarize(t.rest)
		}
	}
	return nil
}

// coldSample is one cold invocation: exec → response (wall), exec → first
// /next (init), and the function's metrics line (its handler time and calls).
type coldSample struct {
	wall, init time.Duration
	metrics    *Metrics
}

func coldOnce(ctx context.Context, cfg lambdaemu.FunctionConfig, payload []byte, check func(int, []byte) error, checkRaw func([]byte) error, hasMetrics bool) (coldSample, error) {
	var cs coldSample
	out := NewCapture()
	cfg.Output = out
	pool := lambdaemu.NewPool(cfg)
	defer pool.Close()
	start := time.Now()
	resp, info, err := pool.Invoke(ctx, payload)
	cs.wall = time.Since(start)
	if err != nil {
		return cs, err
	}
	if !info.Cold {
		return cs, fmt.Errorf("invocation on a fresh pool was not cold")
	}
	cs.init = info.InitDuration
	if checkRaw != nil {
		if err := checkRaw(resp); err != nil {
			return cs, err
		}
	} else if check != nil {
		status, body, err := httpResult(resp)
		if err != nil {
			return cs, err
		}
		if err := check(status, body); err != nil {
			return cs, err
		}
	} else if !json.Valid(resp) {
		return cs, fmt.Errorf("response is not JSON: %.200s", resp)
	}
	if hasMetrics {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := out.WaitMetrics(wctx, 0, func(ms []Metrics) bool { return len(ms) > 0 }); err != nil {
			return cs, fmt.Errorf("no metrics line after the cold invocation: %w", err)
		}
		m := out.MetricsSince(0)[0]
		cs.metrics = &m
	}
	return cs, nil
}

// measureWarm times every representative request through the gateway (the
// baseline through its own), after warm-up, one request at a time.
func (b *bench) measureWarm(ctx context.Context) error {
	ps := b.probes()
	// The sweeper first: later phases leave unpaid orders that become due.
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].schedule != "" && ps[j].schedule == "" })
	for _, p := range ps {
		samples, err := sample(ctx, b.cfg.Warmup, b.cfg.Warm, func(ctx context.Context) (time.Duration, error) { return b.timeProbe(ctx, p) })
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.function, p.name, err)
		}
		rr := &routeResult{Function: p.function, Request: p.name, Sum: Summarize(samples)}
		b.rep.routes = append(b.rep.routes, rr)
		if f := b.fn(p.function); f != nil && f.Warm == nil {
			f.Warm = rr
		}
		progress("  %-22s %-50s p50 %s p99 %s", p.function, p.name, fmtMillis(rr.Sum.P50), fmtMillis(rr.Sum.P99))
	}
	return nil
}

// measureOrders times POST /api/orders per channel, a fresh key per request.
func (b *bench) measureOrders(ctx context.Context) error {
	for _, ch := range []domain.Channel{domain.Alipay, domain.WeChat} {
		if err := b.settle(ctx); err != nil {
			return err
		}
		mark := b.cap.MetricsCount()
		samples, err := sample(ctx, b.cfg.Warmup, b.cfg.Orders, func(ctx context.Context) (time.Duration, error) {
			req, err := b.orderRequest(ctx, ch)
			if err != nil {
				return 0, err
			}
			status, body, d, err := b.do(req)
			if err != nil {
				return 0, err
			}
			return d, checkCreated(status, body)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", ch, err)
		}
		if err := b.settle(ctx); err != nil {
			return err
		}
		oc := orderCreation(ch, b.cap.MetricsSince(mark))
		if oc.Requests != b.cfg.Warmup+b.cfg.Orders {
			return fmt.Errorf("%s: %d order creations but %d metrics lines of OrdersFunction", ch, b.cfg.Warmup+b.cfg.Orders, oc.Requests)
		}
		b.rep.OrderCreation = append(b.rep.OrderCreation, oc)
		note := "signed wap.pay URL, no provider call"
		if ch == domain.WeChat {
			note = "JSAPI prepay at the WeChat Pay sandbox"
		}
		b.rep.flows = append(b.rep.flows, &flowResult{Name: "order creation, " + string(ch), Request: "POST /api/orders (new Idempotency-Key)",
			Note: note, Sum: Summarize(samples)})
	}
	return nil
}

// measureCallbacks pays fresh orders at the sandboxes. Per order it times (1)
// the sandbox's own first callback, Pay → acknowledged (our processing as the
// provider sees it), and (2) a genuine signed callback for the now paid order,
// built with the sandbox's helpers and POSTed to the gateway (the processing of
// a repeated delivery, which providers send routinely).
func (b *bench) measureCallbacks(ctx context.Context) error {
	for _, ch := range []domain.Channel{domain.Alipay, domain.WeChat} {
		notify := "AlipayNotifyFunction"
		if ch == domain.WeChat {
			notify = "WechatNotifyFunction"
		}
		var first, again, firstHandler, againHandler []time.Duration
		for i := 0; i < b.cfg.Callbacks; i++ {
			o, err := b.createOrder(ctx, ch)
			if err != nil {
				return err
			}
			mark := b.cap.MetricsCount()
			d, err := b.payFresh(ctx, ch, o)
			if err != nil {
				return err
			}
			h, err := b.handlerTime(ctx, mark, notify)
			if err != nil {
				return err
			}
			first, firstHandler = append(first, d), append(firstHandler, h)
			req, err := b.callbackRequest(ctx, ch, o.OrderID)
			if err != nil {
				return err
			}
			mark = b.cap.MetricsCount()
			status, body, d2, err := b.do(req)
			if err != nil {
				return err
			}
			if err := checkCallback(ch)(status, body); err != nil {
				return err
			}
			if h, err = b.handlerTime(ctx, mark, notify); err != nil {
				return err
			}
			again, againHandler = append(again, d2), append(againHandler, h)
		}
		b.rep.flows = append(b.rep.flows,
			&flowResult{Name: "callback, " + string(ch) + ", first delivery", Request: "sandbox Pay → its signed callback acknowledged",
				Note: "marks paid, emits the event; includes the sandbox's signing", Sum: Summarize(first), Handler: Summarize(firstHandler)},
			&flowResult{Name: "callback, " + string(ch) + ", signed POST", Request: "POST /notify/" + string(ch) + "/{iface} (just paid)",
				Note: "genuine callback we POST to the gateway; order already paid (duplicate path)", Sum: Summarize(again), Handler: Summarize(againHandler)})
	}
	return nil
}

// handlerTime waits for function's metrics line after mark and returns the
// handler time it reports (HandlerMillis: the function's own processing).
func (b *bench) handlerTime(ctx context.Context, mark int, function string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var found *Metrics
	err := b.cap.WaitMetrics(ctx, mark, func(ms []Metrics) bool {
		for i := range ms {
			if ms[i].Function == function {
				found = &ms[i]
				return true
			}
		}
		return false
	})
	if err != nil {
		return 0, fmt.Errorf("waiting for the metrics line of %s: %w", function, err)
	}
	return time.Duration(found.HandlerMillis * float64(time.Millisecond)), nil
}
