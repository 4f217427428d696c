package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func at(loc *time.Location, y int, mo time.Month, d, h, mi int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, loc)
}

// nextTimes returns n successive fire times after start.
func nextTimes(t *testing.T, expr, tz string, start time.Time, n int) []time.Time {
	t.Helper()
	s, err := Parse(expr, tz)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, tz, err)
	}
	var out []time.Time
	for cur := start; len(out) < n; {
		cur = s.Next(cur)
		if cur.IsZero() {
			break
		}
		out = append(out, cur)
	}
	return out
}

func TestCronNext(t *testing.T) {
	utc := time.UTC
	cases := []struct {
		name, expr, tz string
		start          time.Time
		want           []time.Time
	}{
		{"daily 02:00 Shanghai is 18:00 UTC the day before", "cron(0 2 * * ? *)", "Asia/Shanghai",
			at(utc, 2025, 1, 1, 17, 59),
			[]time.Time{at(utc, 2025, 1, 1, 18, 0), at(utc, 2025, 1, 2, 18, 0)}},
		{"strictly after: a fire time is not repeated", "cron(0 2 * * ? *)", "Asia/Shanghai",
			at(shanghai, 2025, 1, 1, 2, 0),
			[]time.Time{at(shanghai, 2025, 1, 2, 2, 0)}},
		{"UTC default", "cron(30 9 * * ? *)", "",
			at(utc, 2025, 6, 1, 9, 30),
			[]time.Time{at(utc, 2025, 6, 2, 9, 30)}},
		{"last day of month across Feb (non-leap and leap)", "cron(0 23 L * ? *)", "Asia/Shanghai",
			at(shanghai, 2025, 1, 31, 23, 0),
			[]time.Time{at(shanghai, 2025, 2, 28, 23, 0), at(shanghai, 2025, 3, 31, 23, 0), at(shanghai, 2025, 4, 30, 23, 0)}},
		{"leap February", "cron(0 0 L 2 ? *)", "UTC",
			at(utc, 2027, 3, 1, 0, 0),
			[]time.Time{at(utc, 2028, 2, 29, 0, 0), at(utc, 2029, 2, 28, 0, 0)}},
		{"weekday names MON-FRI (2025-03-07 is a Friday)", "cron(0 9 ? * MON-FRI *)", "Asia/Shanghai",
			at(shanghai, 2025, 3, 7, 10, 0),
			[]time.Time{at(shanghai, 2025, 3, 10, 9, 0), at(shanghai, 2025, 3, 11, 9, 0)}},
		{"numeric day of week: 1 is SUN", "cron(0 12 ? * 1 *)", "",
			at(utc, 2025, 3, 5, 0, 0),
			[]time.Time{at(utc, 2025, 3, 9, 12, 0), at(utc, 2025, 3, 16, 12, 0)}},
		{"day list SUN,SAT", "cron(0 8 ? * SAT,SUN *)", "",
			at(utc, 2025, 3, 5, 0, 0),
			[]time.Time{at(utc, 2025, 3, 8, 8, 0), at(utc, 2025, 3, 9, 8, 0), at(utc, 2025, 3, 15, 8, 0)}},
		{"minute step */15", "cron(*/15 10 * * ? *)", "",
			at(utc, 2025, 3, 5, 10, 20),
			[]time.Time{at(utc, 2025, 3, 5, 10, 30), at(utc, 2025, 3, 5, 10, 45), at(utc, 2025, 3, 6, 10, 0)}},
		{"start/step 5/20", "cron(5/20 0 * * ? *)", "",
			at(utc, 2025, 3, 5, 0, 0),
			[]time.Time{at(utc, 2025, 3, 5, 0, 5), at(utc, 2025, 3, 5, 0, 25), at(utc, 2025, 3, 5, 0, 45), at(utc, 2025, 3, 6, 0, 5)}},
		{"range with step and hour list", "cron(0 8-12/2,20 * * ? *)", "",
			at(utc, 2025, 3, 5, 9, 0),
			[]time.Time{at(utc, 2025, 3, 5, 10, 0), at(utc, 2025, 3, 5, 12, 0), at(utc, 2025, 3, 5, 20, 0), at(utc, 2025, 3, 6, 8, 0)}},
		{"day-of-month list and month names", "cron(0 0 1,15 JAN,JUL ? *)", "",
			at(utc, 2025, 1, 15, 0, 0),
			[]time.Time{at(utc, 2025, 7, 1, 0, 0), at(utc, 2025, 7, 15, 0, 0), at(utc, 2026, 1, 1, 0, 0)}},
		{"31st skips short months", "cron(0 0 31 * ? *)", "",
			at(utc, 2025, 1, 31, 0, 0),
			[]time.Time{at(utc, 2025, 3, 31, 0, 0), at(utc, 2025, 5, 31, 0, 0)}},
		{"nth weekday: first Monday", "cron(0 9 ? * MON#1 *)", "Asia/Shanghai",
			at(shanghai, 2025, 3, 1, 0, 0),
			[]time.Time{at(shanghai, 2025, 3, 3, 9, 0), at(shanghai, 2025, 4, 7, 9, 0)}},
		{"year list ends", "cron(0 0 1 1 ? 2026,2028)", "",
			at(utc, 2025, 6, 1, 0, 0),
			[]time.Time{at(utc, 2026, 1, 1, 0, 0), at(utc, 2028, 1, 1, 0, 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := nextTimes(t, c.expr, c.tz, c.start, len(c.want)+1)
			if len(got) > len(c.want) && !strings.Contains(c.expr, "2028") {
				got = got[:len(c.want)]
			}
			if len(got) != len(c.want) {
				t.Fatalf("%s: got %v, want %v", c.expr, got, c.want)
			}
			for i := range got {
				if !got[i].Equal(c.want[i]) {
					t.Fatalf("%s from %v: fire %d = %v, want %v", c.expr, c.start, i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestRate(t *testing.T) {
	start := at(time.UTC, 2025, 3, 5, 10, 7)
	for expr, every := range map[string]time.Duration{
		"rate(5 minutes)": 5 * time.Minute, "rate(1 minute)": time.Minute,
		"rate(1 hour)": time.Hour, "rate(3 hours)": 3 * time.Hour, "rate(1 day)": 24 * time.Hour,
	} {
		got := nextTimes(t, expr, "Asia/Shanghai", start, 2)
		if !got[0].Equal(start.Add(every)) || !got[1].Equal(start.Add(2*every)) {
			t.Errorf("%s: %v", expr, got)
		}
	}
}

func TestInvalidExpressions(t *testing.T) {
	cases := map[string]string{
		"rate(0 minutes)":           "positive",
		"rate(5 minute)":            "plural",
		"rate(1 hours)":             "singular",
		"rate(5 seconds)":           "unit",
		"rate(5)":                   "value and a unit",
		"cron(0 2 * * *)":           "6 fields",
		"cron(0 2 * * * *)":         "must be '?'",
		"cron(0 2 ? * ? *)":         "only one",
		"cron(60 2 * * ? *)":        "out of range",
		"cron(0 24 * * ? *)":        "out of range",
		"cron(0 0 32 * ? *)":        "out of range",
		"cron(0 0 ? * 8 *)":         "out of range",
		"cron(0 0 ? FOO * *)":       "known name",
		"cron(0 0 ? * FRI-MON *)":   "start is after",
		"cron(*/0 0 * * ? *)":       "step",
		"cron(0 0 15W * ? *)":       "not supported",
		"cron(0 0 ? * MON#6 *)":     "1-5",
		"cron(0 0 1 1 ? 1969)":      "out of range",
		"every day":                 "neither rate",
		"cron(0 0 1 1 ? *":          "neither rate",
		"cron(0 0 1,,2 * ? *)":      "empty",
		"cron(0 0 ? * MON *) extra": "neither rate",
	}
	for expr, want := range cases {
		_, err := Parse(expr, "")
		if err == nil {
			t.Errorf("Parse(%q) accepted an invalid expression", expr)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error %q does not mention %q", expr, err, want)
		}
	}
	if _, err := Parse("rate(1 day)", "Mars/Olympus"); err == nil {
		t.Error("unknown timezone accepted")
	}
}

// fakeClock fires timers only when advanced; NewTimer reports each timer.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   chan *fakeTimer
}

type fakeTimer struct {
	clock    *fakeClock
	c        chan time.Time
	deadline time.Time
	stopped  bool
}

func (f *fakeTimer) C() <-chan time.Time { return f.c }
func (f *fakeTimer) Stop() bool {
	f.clock.mu.Lock()
	defer f.clock.mu.Unlock()
	was := !f.stopped
	f.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{clock: c, c: make(chan time.Time, 1), deadline: c.now.Add(d)}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.made <- t
	return t
}

// AdvanceTo sets the time and fires due timers.
func (c *fakeClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	for _, tm := range c.timers {
		if !tm.stopped && !tm.deadline.After(t) {
			tm.stopped = true
			tm.c <- t
		}
	}
}

type fired struct {
	name string
	at   time.Time
}

func TestRunnerFiresAtScheduledInstants(t *testing.T) {
	start := at(shanghai, 2025, 3, 5, 1, 58)
	clock := &fakeClock{now: start, made: make(chan *fakeTimer)}
	r := NewRunner(clock)
	fires := make(chan fired, 16)
	settle, err := Parse("cron(0 2 * * ? *)", "Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	every, err := Parse("rate(1 minute)", "")
	if err != nil {
		t.Fatal(err)
	}
	r.Add("settle", settle, func(_ context.Context, at time.Time) { fires <- fired{"settle", at} })
	r.Add("tick", every, func(_ context.Context, at time.Time) { fires <- fired{"tick", at} })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	expect := func(want ...fired) {
		t.Helper()
		tm := <-clock.made
		if !tm.deadline.Equal(want[0].at) {
			t.Fatalf("runner armed a timer for %v, want %v", tm.deadline, want[0].at)
		}
		clock.AdvanceTo(tm.deadline)
		got := map[string]time.Time{}
		for range want {
			f := <-fires
			got[f.name] = f.at
		}
		for _, w := range want {
			if !got[w.name].Equal(w.at) {
				t.Fatalf("fires %v, want %v", got, want)
			}
		}
	}
	expect(fired{"tick", at(shanghai, 2025, 3, 5, 1, 59)})
	expect(fired{"tick", at(shanghai, 2025, 3, 5, 2, 0)}, fired{"settle", at(shanghai, 2025, 3, 5, 2, 0)})
	expect(fired{"tick", at(shanghai, 2025, 3, 5, 2, 1)})

	// Falling behind: no replay of missed ticks; continue from the present.
	tm := <-clock.made
	clock.AdvanceTo(tm.deadline.Add(10 * time.Minute))
	if f := <-fires; f.name != "tick" || !f.at.Equal(tm.deadline) {
		t.Fatalf("late fire %+v, want tick at %v", f, tm.deadline)
	}
	tm = <-clock.made
	if want := tm.deadline; !want.Equal(at(shanghai, 2025, 3, 5, 2, 13)) {
		t.Fatalf("after falling behind (now 02:12) the next tick is %v, want 02:13", want)
	}
	select {
	case f := <-fires:
		t.Fatalf("missed ticks replayed: %+v", f)
	default:
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestRunnerWithRealClock(t *testing.T) {
	// A real-clock smoke test with a short schedule: a rate of one minute is
	// too slow, so use a tiny custom Schedule.
	r := NewRunner(nil)
	got := make(chan time.Time, 1)
	r.Add("fast", everySchedule(20*time.Millisecond), func(_ context.Context, at time.Time) {
		select {
		case got <- at:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("real-clock runner did not fire")
	}
}

type everySchedule time.Duration

func (e everySchedule) Next(after time.Time) time.Time { return after.Add(time.Duration(e)) }
func (e everySchedule) String() string                 { return "every" }

func TestPayload(t *testing.T) {
	fire := at(shanghai, 2025, 3, 5, 2, 0)
	if got := string(Payload(EventOptions{Input: `{"job":"settle"}`}, fire)); got != `{"job":"settle"}` {
		t.Fatalf("Input payload %s", got)
	}
	if got := string(Payload(EventOptions{Source: SourceScheduler}, fire)); got != "{}" {
		t.Fatalf("scheduler default payload %s", got)
	}
	raw := Payload(EventOptions{Source: SourceRule, Name: "settle-daily", Region: "ap-east-1", Account: "111122223333"}, fire)
	var ev events.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || !ev.Time.Equal(fire) ||
		ev.Region != "ap-east-1" || ev.AccountID != "111122223333" || ev.ID == "" ||
		len(ev.Resources) != 1 || ev.Resources[0] != "arn:aws:events:ap-east-1:111122223333:rule/settle-daily" ||
		string(ev.Detail) != "{}" {
		t.Fatalf("rule event %s", raw)
	}
	if !strings.Contains(string(raw), `"time":"2025-03-04T18:00:00Z"`) {
		t.Fatalf("time not in UTC RFC 3339: %s", raw)
	}
}
