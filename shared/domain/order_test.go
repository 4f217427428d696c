package domain

import (
	"strings"
	"testing"
)

func TestCanTransition(t *testing.T) {
	all := []OrderStatus{OrderCreated, OrderPending, OrderPaid, OrderClosed, "", "REFUNDED"}
	allowed := map[[2]OrderStatus]bool{
		{OrderCreated, OrderPending}: true,
		{OrderCreated, OrderPaid}:    true,
		{OrderPending, OrderPaid}:    true,
		{OrderClosed, OrderPaid}:     true,
		{OrderCreated, OrderClosed}:  true,
		{OrderPending, OrderClosed}:  true,
	}
	for _, from := range all {
		for _, to := range all {
			want := allowed[[2]OrderStatus{from, to}]
			if got := CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%q, %q) = %v, want %v", from, to, got, want)
			}
		}
	}
	// PAID is final: nothing leaves it.
	for _, to := range all {
		if CanTransition(OrderPaid, to) {
			t.Errorf("PAID -> %q allowed", to)
		}
	}
}

func TestOrderStatusFinal(t *testing.T) {
	cases := map[OrderStatus]bool{OrderCreated: false, OrderPending: false, OrderPaid: true, OrderClosed: true, "": false}
	for s, want := range cases {
		if got := s.Final(); got != want {
			t.Errorf("%q.Final() = %v, want %v", s, got, want)
		}
	}
}

func TestPaymentCheckVerify(t *testing.T) {
	base := PaymentCheck{
		OrderAmount: 1234, PaidAmount: 1234,
		OrderMerchant: "1900000001", PaidMerchant: "1900000001",
		OrderApp: "wx8888888888888888", PaidApp: "wx8888888888888888",
	}
	cases := []struct {
		name   string
		mutate func(*PaymentCheck)
		errHas string // "" = no error
	}{
		{"match", func(*PaymentCheck) {}, ""},
		{"amount short by one fen", func(c *PaymentCheck) { c.PaidAmount = 1233 }, "amount mismatch"},
		{"amount over by one fen", func(c *PaymentCheck) { c.PaidAmount = 1235 }, "amount mismatch"},
		{"amount zero", func(c *PaymentCheck) { c.PaidAmount = 0 }, "amount mismatch"},
		{"other merchant", func(c *PaymentCheck) { c.PaidMerchant = "1900000002" }, "merchant mismatch"},
		{"merchant missing in report", func(c *PaymentCheck) { c.PaidMerchant = "" }, "merchant mismatch"},
		{"other app", func(c *PaymentCheck) { c.PaidApp = "wx0000000000000000" }, "app mismatch"},
		{"app missing in report", func(c *PaymentCheck) { c.PaidApp = "" }, "app mismatch"},
		// Fail closed (bug 7): an empty value on either side never matches.
		{"order without merchant", func(c *PaymentCheck) { c.OrderMerchant = "" }, "merchant mismatch"},
		{"order without merchant, report names one", func(c *PaymentCheck) { c.OrderMerchant, c.PaidMerchant = "", "x" }, "merchant mismatch"},
		{"neither names a merchant", func(c *PaymentCheck) { c.OrderMerchant, c.PaidMerchant = "", "" }, "merchant mismatch"},
		{"order without app", func(c *PaymentCheck) { c.OrderApp = "" }, "app mismatch"},
		{"order without app, report names one", func(c *PaymentCheck) { c.OrderApp, c.PaidApp = "", "x" }, "app mismatch"},
		{"neither names an app", func(c *PaymentCheck) { c.OrderApp, c.PaidApp = "", "" }, "app mismatch"},
		{"zero order and zero report", func(c *PaymentCheck) { c.OrderAmount, c.PaidAmount = 0, 0 }, "amount mismatch"},
		// The first mismatch is reported: amount before merchant before app.
		{"all differ", func(c *PaymentCheck) { c.PaidAmount, c.PaidMerchant, c.PaidApp = 1, "m", "a" }, "amount mismatch"},
		{"merchant and app differ", func(c *PaymentCheck) { c.PaidMerchant, c.PaidApp = "m", "a" }, "merchant mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pc := base
			c.mutate(&pc)
			err := pc.Verify()
			if c.errHas == "" {
				if err != nil {
					t.Fatalf("Verify() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify() = nil, want %q", c.errHas)
			}
			if !strings.Contains(err.Error(), c.errHas) {
				t.Fatalf("Verify() = %q, want it to contain %q", err, c.errHas)
			}
		})
	}
}
