package fenfu_test

import (
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/fenfu"
)

var cst = time.FixedZone("CST", 8*3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

// clock is the injected "now" the deletion boundaries are checked at.
type clock struct{ now time.Time }

func (c *clock) set(s string) { c.now = at(s) }

// kept is whether a record with dates d is still kept at the clock's now.
func kept(t *testing.T, k fenfu.RecordKind, d fenfu.RetentionDates, c *clock) bool {
	t.Helper()
	exp, ok, err := fenfu.ExpiresAt(k, d)
	if err != nil {
		t.Fatal(err)
	}
	return !fenfu.Expired(exp, ok, c.now)
}

func TestRetentionBoundaries(t *testing.T) {
	paid := at("2026-03-15 10:00:00")
	c := &clock{}
	cases := []struct {
		name     string
		kind     fenfu.RecordKind
		d        fenfu.RetentionDates
		lastKept string // the last second it is kept
	}{
		{"transaction 5 years", fenfu.TransactionRecord, fenfu.RetentionDates{At: paid}, "2031-03-15 10:00:00"},
		{"risk record 3 years", fenfu.RiskRecordKind, fenfu.RetentionDates{At: paid}, "2029-03-15 10:00:00"},
		{"authorisation 5 years after the contract", fenfu.AuthorisationRecord,
			fenfu.RetentionDates{At: paid, ContractEnd: at("2027-06-30 23:59:59")}, "2032-06-30 23:59:59"},
		{"29 February", fenfu.RiskRecordKind, fenfu.RetentionDates{At: at("2028-02-29 12:00:00")}, "2031-03-01 12:00:00"},
		// A dispute closed early: the 5 years still rule.
		{"dispute closed early", fenfu.TransactionRecord,
			fenfu.RetentionDates{At: paid, LastDisputeClosed: at("2026-09-01 00:00:00")}, "2031-03-15 10:00:00"},
		// A dispute closed late: 2 years after it closed.
		{"dispute closed late", fenfu.TransactionRecord,
			fenfu.RetentionDates{At: paid, LastDisputeClosed: at("2030-11-20 09:30:00")}, "2032-11-20 09:30:00"},
	}
	for _, tc := range cases {
		last := at(tc.lastKept)
		c.now = last.Add(-time.Hour)
		if !kept(t, tc.kind, tc.d, c) {
			t.Errorf("%s: deleted an hour before %s", tc.name, tc.lastKept)
		}
		c.now = last
		if !kept(t, tc.kind, tc.d, c) {
			t.Errorf("%s: deleted at %s, its last second", tc.name, tc.lastKept)
		}
		c.now = last.Add(time.Second)
		if kept(t, tc.kind, tc.d, c) {
			t.Errorf("%s: still kept a second after %s", tc.name, tc.lastKept)
		}
	}
}

// A dispute is a legal hold: no expiry (no TTL attribute) while it is open,
// even far past the record's own term; when it closes, a transaction is kept
// 2 more years, a risk record goes at once if its term is over.
func TestDisputeLegalHold(t *testing.T) {
	c := &clock{}
	d := fenfu.RetentionDates{At: at("2026-03-15 10:00:00")}
	d = d.DisputeOpened()
	for _, k := range []fenfu.RecordKind{fenfu.TransactionRecord, fenfu.RiskRecordKind, fenfu.AuthorisationRecord} {
		exp, ok, err := fenfu.ExpiresAt(k, fenfu.RetentionDates{At: d.At, ContractEnd: d.At, OpenDisputes: 1})
		if err != nil || ok || exp != 0 {
			t.Fatalf("%s under a hold: expires %d ok %v err %v; want no expiry", k, exp, ok, err)
		}
	}
	c.set("2040-01-01 00:00:00")
	if !kept(t, fenfu.TransactionRecord, d, c) || !kept(t, fenfu.RiskRecordKind, d, c) {
		t.Fatal("deleted while a dispute is open")
	}
	// Two disputes: closing one keeps the hold.
	d = d.DisputeOpened()
	d, err := d.DisputeClosed(at("2033-05-01 08:00:00"))
	if err != nil || !d.Held() || !kept(t, fenfu.TransactionRecord, d, c) {
		t.Fatalf("one of two disputes closed: held %v err %v", d.Held(), err)
	}
	d, err = d.DisputeClosed(at("2034-05-01 08:00:00"))
	if err != nil || d.Held() {
		t.Fatalf("last dispute closed: held %v err %v", d.Held(), err)
	}
	c.set("2036-05-01 08:00:00")
	if !kept(t, fenfu.TransactionRecord, d, c) {
		t.Fatal("transaction deleted within 2 years of its dispute closing")
	}
	c.set("2036-05-01 08:00:01")
	if kept(t, fenfu.TransactionRecord, d, c) {
		t.Fatal("transaction kept past 2 years after its dispute closed")
	}
	// A risk record under the same hold goes when the hold ends, its 3 years being over.
	c.set("2034-05-01 08:00:00")
	if !kept(t, fenfu.RiskRecordKind, d, c) {
		t.Fatal("risk record deleted before its hold ended")
	}
	c.set("2034-05-01 08:00:01")
	if kept(t, fenfu.RiskRecordKind, d, c) {
		t.Fatal("risk record kept after its hold ended, its term long over")
	}
	if _, err := d.DisputeClosed(at("2035-01-01 00:00:00")); !errors.Is(err, fenfu.ErrNoOpenDispute) {
		t.Fatalf("closing with none open: %v", err)
	}
}

func TestRetentionNoExpiryAndErrors(t *testing.T) {
	exp, ok, err := fenfu.ExpiresAt(fenfu.AuthorisationRecord, fenfu.RetentionDates{At: at("2026-01-01 00:00:00")})
	if err != nil || ok || exp != 0 {
		t.Fatalf("authorisation in force: %d %v %v; want kept without expiry", exp, ok, err)
	}
	if fenfu.Expired(0, false, at("2099-01-01 00:00:00")) {
		t.Fatal("a record without expiry counted as expired")
	}
	for _, k := range []fenfu.RecordKind{fenfu.TransactionRecord, fenfu.RiskRecordKind} {
		if _, _, err := fenfu.ExpiresAt(k, fenfu.RetentionDates{}); err == nil {
			t.Errorf("%s without its time accepted", k)
		}
	}
	if _, _, err := fenfu.ExpiresAt("order", fenfu.RetentionDates{At: at("2026-01-01 00:00:00")}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	// The value is epoch seconds (DynamoDB TTL), independent of the zone given.
	exp, ok, _ = fenfu.ExpiresAt(fenfu.RiskRecordKind, fenfu.RetentionDates{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if !ok || exp != time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("epoch seconds: %d", exp)
	}
}
