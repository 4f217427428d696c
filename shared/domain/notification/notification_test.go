package notification

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)

func TestTwentyPaymentsInThreeMinutesGiveOneMessageAndOneDigest(t *testing.T) {
	var th Throttle
	var sent []Message
	for i := 0; i < 20; i++ {
		at := t0.Add(time.Duration(i) * 9 * time.Second)
		var m *Message
		th, m = th.Admit(Payment{EventID: "e", AmountFen: int64(100 + i), At: at}, at)
		if m != nil {
			sent = append(sent, *m)
		}
	}
	if len(sent) != 1 || sent[0].Kind != Instant || sent[0].Count != 1 || sent[0].SumFen != 100 {
		t.Fatalf("messages during the window: %+v", sent)
	}
	if _, m := th.Flush(t0.Add(Window - time.Second)); m != nil {
		t.Fatalf("digest before the window ended: %+v", m)
	}
	th, m := th.Flush(t0.Add(Window))
	var want int64
	for i := 1; i < 20; i++ {
		want += int64(100 + i)
	}
	if m == nil || m.Kind != Digest || m.Count != 19 || m.SumFen != want || !m.Since.Equal(t0.Add(9*time.Second)) {
		t.Fatalf("digest: %+v, want 19 payments, %d fen", m, want)
	}
	if _, again := th.Flush(t0.Add(2 * Window)); again != nil {
		t.Fatalf("a second digest with nothing pending: %+v", again)
	}
}

func TestPaymentAfterTheWindowCarriesTheHeldBackOnes(t *testing.T) {
	var th Throttle
	th, _ = th.Admit(Payment{AmountFen: 1, At: t0}, t0)
	th, m := th.Admit(Payment{AmountFen: 2, At: t0.Add(time.Minute)}, t0.Add(time.Minute))
	if m != nil {
		t.Fatal("second payment inside the window sent at once")
	}
	// The window ended but the flush has not run yet: the next payment's message carries both.
	th, m = th.Admit(Payment{AmountFen: 4, At: t0.Add(11 * time.Minute)}, t0.Add(11*time.Minute))
	if m == nil || m.Kind != Instant || m.Count != 2 || m.SumFen != 6 || th.PendingCount != 0 || !th.Until.Equal(t0.Add(21*time.Minute)) {
		t.Fatalf("message %+v, throttle %+v", m, th)
	}
}

func TestParseChannel(t *testing.T) {
	for _, c := range []string{"wechat_oa", "sms", "email"} {
		if _, err := ParseChannel(c); err != nil {
			t.Error(c, err)
		}
	}
	if _, err := ParseChannel("fax"); err == nil {
		t.Error("fax accepted")
	}
}
