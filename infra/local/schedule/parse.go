// Package schedule evaluates EventBridge schedule expressions (rate(...) and
// six-field cron(...)), runs them with timers, and builds the event a
// scheduled Lambda receives.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule yields fire times.
type Schedule interface {
	// Next returns the first fire time strictly after `after`, or the zero
	// time when there is none (a cron whose year list has passed).
	Next(after time.Time) time.Time
	String() string
}

// Parse parses an EventBridge schedule expression. timezone is an IANA name
// such as "Asia/Shanghai" ("" means UTC); it applies to cron expressions
// (rate expressions do not depend on it).
func Parse(expr, timezone string) (Schedule, error) {
	loc := time.UTC
	if timezone != "" {
		l, err := time.LoadLocation(timezone)
		if err != nil {
			return nil, fmt.Errorf("schedule: unknown timezone %q: %w", timezone, err)
		}
		loc = l
	}
	e := strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(e, "rate(") && strings.HasSuffix(e, ")"):
		return parseRate(expr, e[len("rate("):len(e)-1])
	case strings.HasPrefix(e, "cron(") && strings.HasSuffix(e, ")"):
		return parseCron(expr, e[len("cron("):len(e)-1], loc)
	}
	return nil, fmt.Errorf("schedule: %q is neither rate(value unit) nor cron(min hour day-of-month month day-of-week year)", expr)
}

// rate fires every interval, counted from the previous fire time.
type rate struct {
	expr  string
	every time.Duration
}

func (r rate) Next(after time.Time) time.Time { return after.Add(r.every) }
func (r rate) String() string                 { return r.expr }

func parseRate(expr, body string) (Schedule, error) {
	fields := strings.Fields(body)
	if len(fields) != 2 {
		return nil, fmt.Errorf("schedule: %q: rate needs a value and a unit, e.g. rate(5 minutes)", expr)
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("schedule: %q: rate value must be a positive integer", expr)
	}
	units := map[string]time.Duration{
		"minute": time.Minute, "minutes": time.Minute,
		"hour": time.Hour, "hours": time.Hour,
		"day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	unit, ok := units[fields[1]]
	if !ok {
		return nil, fmt.Errorf("schedule: %q: rate unit must be minute(s), hour(s) or day(s)", expr)
	}
	if plural := strings.HasSuffix(fields[1], "s"); plural != (n != 1) {
		return nil, fmt.Errorf("schedule: %q: use the singular unit for 1 and the plural otherwise (rate(1 hour), rate(2 hours))", expr)
	}
	return rate{expr: expr, every: time.Duration(n) * unit}, nil
}
