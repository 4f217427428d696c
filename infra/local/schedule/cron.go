package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	minYear = 1970
	maxYear = 2199
)

var monthNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}

// EventBridge numbers days of the week 1 (SUN) to 7 (SAT).
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

// cron is a parsed six-field EventBridge cron expression.
type cron struct {
	expr    string
	loc     *time.Location
	minutes set
	hours   set
	months  set
	years   map[int]bool // nil: any year

	domAny  bool // day-of-month is '?': days are chosen by day-of-week
	dom     set
	lastDom bool // L in day-of-month
	dow     set
	nthDow  []nth // d#n entries
}

type nth struct{ day, n int } // EventBridge day number, occurrence 1-5

// set is a bitmask of allowed values (0..63).
type set uint64

func (s set) has(v int) bool { return s&(1<<uint(v)) != 0 }

func parseCron(expr, body string, loc *time.Location) (Schedule, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("schedule: %q: cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", expr, len(f))
	}
	bad := func(field string, err error) error {
		return fmt.Errorf("schedule: %q: %s field: %w", expr, field, err)
	}
	c := &cron{expr: expr, loc: loc}
	var err error
	if c.minutes, err = parseField(f[0], 0, 59, nil); err != nil {
		return nil, bad("minutes", err)
	}
	if c.hours, err = parseField(f[1], 0, 23, nil); err != nil {
		return nil, bad("hours", err)
	}
	if c.months, err = parseField(f[3], 1, 12, monthNames); err != nil {
		return nil, bad("month", err)
	}
	if f[5] != "*" && f[5] != "?" {
		c.years = map[int]bool{}
		for _, part := range strings.Split(f[5], ",") {
			lo, hi, step, err := parseRange(part, minYear, maxYear, nil)
			if err != nil {
				return nil, bad("year", err)
			}
			for y := lo; y <= hi; y += step {
				c.years[y] = true
			}
		}
	}
	domQ, dowQ := f[2] == "?", f[4] == "?"
	switch {
	case domQ && dowQ:
		return nil, fmt.Errorf("schedule: %q: only one of day-of-month and day-of-week may be '?'", expr)
	case !domQ && !dowQ:
		return nil, fmt.Errorf("schedule: %q: one of day-of-month and day-of-week must be '?' (EventBridge does not allow both)", expr)
	case domQ:
		c.domAny = true
		if err := c.parseDow(f[4]); err != nil {
			return nil, bad("day-of-week", err)
		}
	default:
		if err := c.parseDom(f[2]); err != nil {
			return nil, bad("day-of-month", err)
		}
	}
	return c, nil
}

func (c *cron) parseDom(s string) error {
	var rest []string
	for _, part := range strings.Split(s, ",") {
		switch {
		case part == "L":
			c.lastDom = true
		case strings.Contains(part, "W") || strings.Contains(part, "L"):
			return fmt.Errorf("%q is not supported (only L alone)", part)
		default:
			rest = append(rest, part)
		}
	}
	if len(rest) > 0 {
		var err error
		c.dom, err = parseField(strings.Join(rest, ","), 1, 31, nil)
		return err
	}
	return nil
}

func (c *cron) parseDow(s string) error {
	var rest []string
	for _, part := range strings.Split(s, ",") {
		d, n, ok := strings.Cut(part, "#")
		if !ok {
			if strings.Contains(part, "L") && part != "L" {
				return fmt.Errorf("%q is not supported", part)
			}
			if part == "L" { // L alone in day-of-week means Saturday
				part = "7"
			}
			rest = append(rest, part)
			continue
		}
		day, err := parseValue(d, 1, 7, dayNames)
		if err != nil {
			return err
		}
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 || k > 5 {
			return fmt.Errorf("%q: occurrence after # must be 1-5", part)
		}
		c.nthDow = append(c.nthDow, nth{day, k})
	}
	if len(rest) > 0 {
		var err error
		c.dow, err = parseField(strings.Join(rest, ","), 1, 7, dayNames)
		return err
	}
	return nil
}

// parseField parses a comma list of *, values, ranges and steps.
func parseField(s string, min, max int, names map[string]int) (set, error) {
	var out set
	for _, part := range strings.Split(s, ",") {
		lo, hi, step, err := parseRange(part, min, max, names)
		if err != nil {
			return 0, err
		}
		for v := lo; v <= hi; v += step {
			out |= 1 << uint(v)
		}
	}
	return out, nil
}

// parseRange parses one list element: *, v, a-b, with an optional /step
// (v/step means v through max).
func parseRange(part string, min, max int, names map[string]int) (lo, hi, step int, err error) {
	if part == "" {
		return 0, 0, 0, fmt.Errorf("empty list element")
	}
	step = 1
	base, stepStr, hasStep := strings.Cut(part, "/")
	if hasStep {
		step, err = strconv.Atoi(stepStr)
		if err != nil || step < 1 {
			return 0, 0, 0, fmt.Errorf("%q: step must be a positive integer", part)
		}
	}
	switch {
	case base == "*":
		return min, max, step, nil
	case strings.Contains(base, "-"):
		a, b, _ := strings.Cut(base, "-")
		if lo, err = parseValue(a, min, max, names); err != nil {
			return 0, 0, 0, err
		}
		if hi, err = parseValue(b, min, max, names); err != nil {
			return 0, 0, 0, err
		}
		if lo > hi {
			return 0, 0, 0, fmt.Errorf("%q: range start is after its end", part)
		}
		return lo, hi, step, nil
	default:
		if lo, err = parseValue(base, min, max, names); err != nil {
			return 0, 0, 0, err
		}
		if hasStep {
			return lo, max, step, nil
		}
		return lo, lo, 1, nil
	}
}

func parseValue(s string, min, max int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok && names != nil {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or a known name", s)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, min, max)
	}
	return v, nil
}

func (c *cron) String() string { return c.expr }

// Next implements Schedule, evaluating the fields in c's time zone.
func (c *cron) Next(after time.Time) time.Time {
	t := after.In(c.loc).Truncate(time.Minute).Add(time.Minute)
	if t.Second() != 0 { // Truncate works on absolute time; zones have whole-minute offsets
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, c.loc)
	}
	for t.Year() <= maxYear {
		switch {
		case c.years != nil && !c.years[t.Year()]:
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, c.loc)
		case !c.months.has(int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, c.loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, c.loc)
		case !c.hours.has(t.Hour()):
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, c.loc)
		case !c.minutes.has(t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (c *cron) dayMatches(t time.Time) bool {
	if !c.domAny {
		if c.dom.has(t.Day()) {
			return true
		}
		return c.lastDom && t.AddDate(0, 0, 1).Day() == 1
	}
	wd := int(t.Weekday()) + 1 // EventBridge: 1 = SUN
	if c.dow.has(wd) {
		return true
	}
	for _, n := range c.nthDow {
		if n.day == wd && (t.Day()-1)/7+1 == n.n {
			return true
		}
	}
	return false
}
