package main

import (
	"bytes"
	"context"
	"encoding/json"
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
// the sandboxes' lines, lets callers wait for a line, and keeps the last lines
// for error messages.
type Capture struct {
	mu      sync.Mutex
	partial []byte
	metrics []Metrics
	lines   []string // sandbox lines (bounded)
	tail    []string // last lines of everything
	changed chan struct{}
}

const (
	keepSandboxLines = 4096
	keepTail         = 60
)

// NewCapture returns an empty capture.
func NewCapture() *Capture { return &Capture{changed: make(chan struct{})} }

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
		if m, ok := ParseMetricsLine(line); ok {
			c.metrics = append(c.metrics, m)
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
		for svc, n := range m.Calls {
			fc.Calls[svc] += n
		}
	}
	return out
}

// FunctionCalls is what one function did during a measured flow.
type FunctionCalls struct {
	Function    string           `json:"function"`
	Invocations int              `json:"invocations"`
	Calls       map[string]int64 `json:"calls"`
}
