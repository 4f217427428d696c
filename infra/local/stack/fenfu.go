package stack

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// riskClockFile is where the local stack keeps the 分付 risk clock's offset
// from the wall clock (a Go duration); the functions read it through
// FENFU_CLOCK_FILE (shared/setup.Fenfu). Local only: never in the template.
func (s *Stack) riskClockFile() string { return filepath.Join(s.opt.StateDir, "fenfu-clock") }

// SetRiskClock moves the 分付 risk rules' clock so that it reads `at` now
// (the zero time: back to the wall clock) — for the demo's night-time payment.
func (s *Stack) SetRiskClock(at time.Time) error {
	d := time.Duration(0)
	if !at.IsZero() {
		d = time.Until(at).Round(time.Second)
	}
	return os.WriteFile(s.riskClockFile(), []byte(d.String()), 0o644)
}

// handleRiskClock is the control API's POST /fenfu/clock?at=<RFC 3339>
// (no at: the wall clock again).
func (s *Stack) handleRiskClock(w http.ResponseWriter, r *http.Request) {
	var at time.Time
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, "at must be RFC 3339, e.g. 2026-12-06T23:30:00+08:00", http.StatusBadRequest)
			return
		}
		at = t
	}
	if err := s.SetRiskClock(at); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"risk_clock": at.Format(time.RFC3339)})
}
