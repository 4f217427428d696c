package schedule

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of a Runner; tests inject a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer a Runner uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// FireFunc is called at each fire time; at is the scheduled instant.
type FireFunc func(ctx context.Context, at time.Time)

type entry struct {
	name     string
	schedule Schedule
	fire     FireFunc
	next     time.Time
	started  bool // next has been computed
	done     bool // the schedule has no more times
}

// Runner fires schedules at their times using one timer for the earliest
// due entry; it never polls.
type Runner struct {
	clock   Clock
	mu      sync.Mutex
	entries []*entry
}

// NewRunner returns a Runner on clock (nil: RealClock).
func NewRunner(clock Clock) *Runner {
	if clock == nil {
		clock = RealClock{}
	}
	return &Runner{clock: clock}
}

// Add registers a schedule. Add it before Run; entries added later are
// picked up at the Runner's next wake-up.
func (r *Runner) Add(name string, s Schedule, fire FireFunc) {
	r.mu.Lock()
	r.entries = append(r.entries, &entry{name: name, schedule: s, fire: fire})
	r.mu.Unlock()
}

// Run fires every entry at each of its times until ctx ends, then waits for
// running callbacks and returns ctx.Err(). Callbacks run in their own
// goroutines (a slow one does not delay the others); `at` is the scheduled
// time. Rate schedules count from Run's start. A Runner that fell behind
// (e.g. the machine slept) fires once and then continues from the present,
// without replaying missed times.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	start := r.clock.Now()
	for {
		r.mu.Lock()
		var earliest time.Time
		for _, e := range r.entries {
			if !e.started {
				e.started = true
				e.next = e.schedule.Next(start)
				e.done = e.next.IsZero()
			}
			if !e.done && (earliest.IsZero() || e.next.Before(earliest)) {
				earliest = e.next
			}
		}
		r.mu.Unlock()
		if earliest.IsZero() {
			<-ctx.Done()
			return ctx.Err()
		}
		timer := r.clock.NewTimer(earliest.Sub(r.clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C():
		}
		now := r.clock.Now()
		r.mu.Lock()
		for _, e := range r.entries {
			if !e.started || e.done || e.next.After(now) {
				continue
			}
			at, fire := e.next, e.fire
			wg.Add(1)
			go func() {
				defer wg.Done()
				fire(ctx, at)
			}()
			e.next = e.schedule.Next(at)
			if !e.next.IsZero() && !e.next.After(now) {
				e.next = e.schedule.Next(now)
			}
			e.done = e.next.IsZero()
		}
		r.mu.Unlock()
	}
}
