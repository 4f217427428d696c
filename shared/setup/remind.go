package setup

import "time"

// RemindClock is the arrears reminders' clock: the wall clock, moved by the
// duration written in path when the local stack sets REMIND_CLOCK_FILE (its
// control POST /remind/clock, so the demo and the stack tests run the
// reminders outside the quiet hours at any hour; never set in a deployment).
func RemindClock(path string) func() time.Time { return riskClock(path) }
