package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/reminder"
	"github.com/estatepay/estatepay/shared/store"
)

// The arrears reminders' demo (催缴, README "Arrears reminders"): 阳光花园's
// reminders are on (every 7 days), and its last house, 2栋2单元501
// (DemoRemindNoContactHouse), has no phone, so it is left to the printed
// 催缴单 batch. Every other house with bills of DemoPeriods still unpaid is
// overdue (their due dates are the periods' last days) and has the owner's
// phone: running RemindFunction on demo-both sends one SMS to each.
const (
	LocalSmsRemindTemplateID = "100003"
	LocalSmsRemindTemplate   = "{1}业主您好，您有{2}笔物业费用已逾期，合计{3}元，请点击 {4} 缴纳。不再接收请点 {5}"
	// RemindUnsubKeyFile holds the 退订 links' HMAC key under .local/keys
	// (RemindUnsubKeySecretName), created on first use.
	RemindUnsubKeyFile = "remind-unsub-key"
	// DemoRemindCommunity is the demo community whose reminders are on.
	DemoRemindCommunity = demoBillsCommunity
)

// DemoRemindNoContactHouse is the id of the demo house without a phone.
func DemoRemindNoContactHouse() string {
	bd, u, r := demoPlace(demoHouses - 1)
	return house.ID(DemoCompanyID, demoBillsCommunity, bd, u, r)
}

// seedDemoReminders turns 阳光花园's reminders on and clears the last
// house's phone (on every start: the import writes the house back with it).
func seedDemoReminders(ctx context.Context, st *store.Store) error {
	rem := st.ReminderRepo()
	if err := rem.PutReminderSettings(ctx, reminder.Settings{CompanyID: DemoCompanyID, CommunityID: DemoRemindCommunity, Enabled: true, PeriodDays: 7}); err != nil {
		return err
	}
	hr := st.HouseRepo()
	h, err := hr.GetHouse(ctx, DemoCompanyID, DemoRemindNoContactHouse())
	if err != nil {
		return err
	}
	if h.OwnerPhone == "" {
		return nil
	}
	h.OwnerPhone = ""
	h.UpdatedAt = time.Now()
	return hr.PutHouse(ctx, h)
}

// remindUnsubKeyRef is the 退订 key's secret reference (a file under
// .local/keys, made on first use: the functions read it at cold start).
func (s *Stack) remindUnsubKeyRef() string {
	path := filepath.Join(s.opt.StateDir, "keys", RemindUnsubKeyFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		fmt.Fprintf(s.out, "reminder unsubscribe key %s: %v\n", path, err)
	} else if _, err := loadOrCreateSecret(path); err != nil {
		fmt.Fprintf(s.out, "reminder unsubscribe key %s: %v\n", path, err)
	}
	return "file://" + path
}

// remindClockFile is where the local stack keeps the reminders' clock
// offset from the wall clock (a Go duration); RemindFunction reads it
// through REMIND_CLOCK_FILE (shared/setup.RemindClock). Local only.
func (s *Stack) remindClockFile() string { return filepath.Join(s.opt.StateDir, "remind-clock") }

// SetRemindClock moves the reminders' clock so that it reads `at` now (the
// zero time: back to the wall clock) — to run them outside (or inside) the
// quiet hours at any hour.
func (s *Stack) SetRemindClock(at time.Time) error {
	d := time.Duration(0)
	if !at.IsZero() {
		d = time.Until(at).Round(time.Second)
	}
	return os.WriteFile(s.remindClockFile(), []byte(d.String()), 0o644)
}

// handleRemindClock is the control API's POST /remind/clock?at=<RFC 3339>
// (no at: the wall clock again).
func (s *Stack) handleRemindClock(w http.ResponseWriter, r *http.Request) {
	var at time.Time
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, "at must be RFC 3339, e.g. 2026-12-07T10:00:00+08:00", http.StatusBadRequest)
			return
		}
		at = t
	}
	if err := s.SetRemindClock(at); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"remind_clock": at.Format(time.RFC3339)})
}
