package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Metrics is one CloudWatch EMF line a function printed after an invocation
// (shared/platform.Start): the function and its AWS API calls per service.
type Metrics struct {
	Function      string           `json:"function"`
	HandlerMillis float64          `json:"handler_ms"`
	Calls         map[string]int64 `json:"calls"` // "DynamoDB" -> n, "SQS" -> n
}

// ParseMetricsLine parses a function output line as the stack's Log writer
// receives it ("[FunctionName] {...EMF...}"). ok is false for any other line.
func ParseMetricsLine(line string) (m Metrics, ok bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "[") {
		return m, false
	}
	end := strings.Index(line, "] ")
	if end < 0 {
		return m, false
	}
	prefix, rest := line[1:end], strings.TrimSpace(line[end+2:])
	if !strings.HasPrefix(rest, "{") || !strings.Contains(rest, `"_aws"`) {
		return m, false
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(rest), &doc); err != nil {
		return m, false
	}
	if _, ok := doc["_aws"]; !ok {
		return m, false
	}
	m.Function = prefix
	if raw, ok := doc["function"]; ok {
		var fn string
		if json.Unmarshal(raw, &fn) == nil && fn != "" {
			m.Function = fn
		}
	}
	if raw, ok := doc["HandlerMillis"]; ok {
		_ = json.Unmarshal(raw, &m.HandlerMillis)
	}
	m.Calls = map[string]int64{}
	for k, raw := range doc {
		svc, found := strings.CutSuffix(k, "Calls")
		if !found || svc == "" {
			continue
		}
		var n int64
		if json.Unmarshal(raw, &n) == nil {
			m.Calls[svc] = n
		}
	}
	return m, true
}

// Capture is the stack's Log writer: it keeps the functions' metrics lines and
// the sandboxes' lines, counts per function what the stack and the function
// wrote (Activity), lets callers wait for a line, and keeps the last lines
// for error messages.
type Capture struct {
	mu       sync.Mutex
	partial  []byte
	metrics  []Metrics
	lines    []string // sandbox lines (bounded)
	tail     []string // last lines of everything
	activity map[string]*Activity
	changed  chan struct{}
}

// Activity is what one function did so far, as the stack's output shows it.
type Activity struct {
	Invokes  int     `json:"invocations"`   // the stack's "invoke <Function> …" lines (after the response)
	Metrics  int     `json:"metrics_lines"` // the function's EMF lines (one per invocation)
	LogLines int64   `json:"log_lines"`     // every "[Function] …" line: what CloudWatch Logs would ingest
	LogBytes int64   `json:"log_bytes"`     // their bytes (without the "[Function] " prefix, with the newline)
	BilledMs int64   `json:"billed_ms"`     // sum of the REPORT lines' Billed Duration
	InitMs   float64 `json:"init_ms"`       // sum of the REPORT lines' Init Duration (cold starts)
}

func (a Activity) minus(b Activity) Activity {
	return Activity{Invokes: a.Invokes - b.Invokes, Metrics: a.Metrics - b.Metrics, LogLines: a.LogLines - b.LogLines,
		LogBytes: a.LogBytes - b.LogBytes, BilledMs: a.BilledMs - b.BilledMs, InitMs: a.InitMs - b.InitMs}
}

const (
	keepSandboxLines = 4096
	keepTail         = 60
)

// NewCapture returns an empty capture.
func NewCapture() *Capture {
	return &Capture{changed: make(chan struct{}), activity: map[string]*Activity{}}
}

func (c *Capture) act(fn string) *Activity {
	a := c.activity[fn]
	if a == nil {
		a = &Activity{}
		c.activity[fn] = a
	}
	return a
}

// account counts line for its function: invoke lines written by the stack
// ("invoke <Function> <duration> …"), and the function's own lines
// ("[Function] …") with their REPORT figures.
func (c *Capture) account(line string) bool {
	if rest, ok := strings.CutPrefix(line, "invoke "); ok {
		if f := strings.Fields(rest); len(f) > 0 {
			c.act(f[0]).Invokes++
			return true
		}
		return false
	}
	if !strings.HasPrefix(line, "[") {
		return false
	}
	end := strings.Index(line, "] ")
	if end < 0 {
		return false
	}
	fn, msg := line[1:end], line[end+2:]
	if fn == "sandbox" || strings.ContainsAny(fn, " \t") {
		return false
	}
	a := c.act(fn)
	a.LogLines++
	a.LogBytes += int64(len(msg)) + 1
	if strings.HasPrefix(msg, "REPORT ") {
		for _, field := range strings.Split(msg, "\t") {
			k, v, ok := strings.Cut(strings.TrimSpace(field), ": ")
			if !ok {
				continue
			}
			v = strings.TrimSuffix(v, " ms")
			switch k {
			case "Billed Duration":
				n, _ := strconv.ParseInt(v, 10, 64)
				a.BilledMs += n
			case "Init Duration":
				f, _ := strconv.ParseFloat(v, 64)
				a.InitMs += f
			}
		}
	}
	return false
}

// Activity returns a copy of every function's activity so far.
func (c *Capture) Activity() map[string]Activity {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Activity, len(c.activity))
	for k, v := range c.activity {
		out[k] = *v
	}
	return out
}

// ActivitySince is the activity after mark (an earlier Activity()), per function.
func ActivitySince(now, mark map[string]Activity) map[string]Activity {
	out := map[string]Activity{}
	for fn, a := range now {
		if d := a.minus(mark[fn]); d != (Activity{}) {
			out[fn] = d
		}
	}
	return out
}

// Unsettled lists the functions (other than skip) that the stack invoked
// more often than they printed a metrics line so far: their last
// invocation's lines are still on their way.
func (c *Capture) Unsettled(skip ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for fn, a := range c.activity {
		if a.Invokes > a.Metrics && !slices.Contains(skip, fn) {
			out = append(out, fn)
		}
	}
	sort.Strings(out)
	return out
}

// WaitSettled waits until every function (but skip) printed as many metrics
// lines as the stack invoked it.
func (c *Capture) WaitSettled(ctx context.Context, skip ...string) error {
	err := c.wait(ctx, func() bool {
		for fn, a := range c.activity {
			if a.Invokes > a.Metrics && !slices.Contains(skip, fn) {
				return false
			}
		}
		return true
	})
	if err != nil {
		c.mu.Lock()
		var pending []string
		for fn, a := range c.activity {
			if a.Invokes > a.Metrics && !slices.Contains(skip, fn) {
				pending = append(pending, fmt.Sprintf("%s (%d invocations, %d metrics lines)", fn, a.Invokes, a.Metrics))
			}
		}
		c.mu.Unlock()
		sort.Strings(pending)
		return fmt.Errorf("%w: waiting for the metrics lines of %s", err, strings.Join(pending, ", "))
	}
	return nil
}

// Write implements io.Writer; it accepts partial lines.
func (c *Capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := string(c.partial[:i])
		c.partial = c.partial[i+1:]
		c.tail = append(c.tail, line)
		if len(c.tail) > 2*keepTail {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-keepTail:]...)
		}
		if c.account(line) {
			added = true
		}
		if m, ok := ParseMetricsLine(line); ok {
			c.metrics = append(c.metrics, m)
			c.act(m.Function).Metrics++
			added = true
		} else if strings.HasPrefix(line, "[sandbox] ") {
			c.lines = append(c.lines, line)
			if len(c.lines) > 2*keepSandboxLines {
				c.lines = append(c.lines[:0], c.lines[len(c.lines)-keepSandboxLines:]...)
			}
			added = true
		}
	}
	if len(c.partial) == 0 {
		c.partial = nil
	}
	if added {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	return len(p), nil
}

// MetricsCount is the number of metrics lines so far (a mark for MetricsSince).
func (c *Capture) MetricsCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.metrics)
}

// MetricsSince returns the metrics lines after mark.
func (c *Capture) MetricsSince(mark int) []Metrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mark > len(c.metrics) {
		return nil
	}
	return append([]Metrics(nil), c.metrics[mark:]...)
}

// Tail returns the last lines written, for error messages.
func (c *Capture) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tail
	if len(t) > keepTail {
		t = t[len(t)-keepTail:]
	}
	return strings.Join(t, "\n")
}

// WaitMetrics waits until cond holds for the metrics lines after mark.
func (c *Capture) WaitMetrics(ctx context.Context, mark int, cond func([]Metrics) bool) error {
	return c.wait(ctx, func() bool {
		if mark > len(c.metrics) {
			return false
		}
		return cond(c.metrics[mark:])
	})
}

// WaitSandboxLine waits for a sandbox line containing every one of parts and
// returns the latest such line.
func (c *Capture) WaitSandboxLine(ctx context.Context, parts ...string) (string, error) {
	var found string
	err := c.wait(ctx, func() bool {
		for i := len(c.lines) - 1; i >= 0; i-- {
			if containsAll(c.lines[i], parts) {
				found = c.lines[i]
				return true
			}
		}
		return false
	})
	return found, err
}

func (c *Capture) wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok := cond()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// CountByFunction sums the metrics lines per function: invocations and calls
// per service.
func CountByFunction(ms []Metrics) map[string]*FunctionCalls {
	out := map[string]*FunctionCalls{}
	for _, m := range ms {
		fc := out[m.Function]
		if fc == nil {
			fc = &FunctionCalls{Function: m.Function, Calls: map[string]int64{}}
			out[m.Function] = fc
		}
		fc.Invocations++
		fc.HandlerMs = round2(fc.HandlerMs + m.HandlerMillis)
		for svc, n := range m.Calls {
			fc.Calls[svc] += n
		}
	}
	return out
}

// FunctionCalls is what one function did during a measured flow: from its
// metrics lines the invocations, the calls per service ("DynamoDB",
// "DynamoDBWrite" — the writes among them —, "SQS", "Provider",
// "SecretsManager") and its handler time; from the stack's output its
// billed time (REPORT) and the bytes and lines it logged.
type FunctionCalls struct {
	Function    string           `json:"function"`
	Invocations int              `json:"invocations"`
	Calls       map[string]int64 `json:"calls"`
	HandlerMs   float64          `json:"handler_ms"`
	BilledMs    int64            `json:"billed_ms"`
	InitMs      float64          `json:"init_ms,omitempty"`
	LogBytes    int64            `json:"log_bytes"`
	LogLines    int64            `json:"log_lines"`
}
