package wechatpay_test

import (
	"context"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// The sandbox's bill, fetched through the adapter, parses with
// ParseTradeBill; each injected difference shows in it and nothing else.
func TestSandboxBillParsesAndCarriesInjectedDifferences(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	ctx := context.Background()
	const openid = "oBillPayer00000000000000001"
	for _, o := range []struct {
		id     string
		amount int64
	}{{"BILL_A", 10000}, {"BILL_B", 20000}, {"BILL_C", 30000}} {
		e.prepay(t, o.id, o.amount, openid)
		if err := e.sb.Pay(o.id); err != nil {
			t.Fatal(err)
		}
		e.next(t)
	}
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "BILL_A", RefundID: "R_BILL_A", AmountFen: 2500, TotalFen: 10000}); err != nil {
		t.Fatal(err)
	}
	day := e.clock.Now()
	e.clock.Advance(24 * time.Hour)

	parse := func() map[string]wechatpay.BillRow {
		t.Helper()
		b, err := e.p.TradeBill(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		rows, _, err := wechatpay.ParseTradeBill(b)
		if err != nil {
			t.Fatalf("%v:\n%s", err, b)
		}
		out := map[string]wechatpay.BillRow{}
		for _, r := range rows {
			k := r.OrderID
			if r.Refund() {
				k = r.OutRefundNo
			}
			out[k] = r
		}
		return out
	}
	faithful := parse()
	if len(faithful) != 4 || faithful["BILL_B"].SettleFen != 20000 || faithful["BILL_B"].FeeFen != 120 || faithful["R_BILL_A"].RefundFen != 2500 {
		t.Fatalf("faithful bill %+v", faithful)
	}
	e.sb.InjectBillDifference(wechat.BillDifference{Kind: wechat.BillMissingRow, OutTradeNo: "BILL_A"})
	e.sb.InjectBillDifference(wechat.BillDifference{Kind: wechat.BillChangedAmount, OutTradeNo: "BILL_B", AmountFen: 19900})
	e.sb.InjectBillDifference(wechat.BillDifference{Kind: wechat.BillExtraTrade, OutTradeNo: "BILL_X", AmountFen: 777, MchID: faithful["BILL_C"].MchID,
		AppID: faithful["BILL_C"].AppID, At: day})
	changed := parse()
	if _, ok := changed["BILL_A"]; ok {
		t.Fatal("missing row still billed")
	}
	if r := changed["BILL_B"]; r.SettleFen != 19900 || r.FeeFen != 119 {
		t.Fatalf("changed amount %+v", r)
	}
	if r := changed["BILL_X"]; r.SettleFen != 777 || r.Refund() {
		t.Fatalf("extra trade %+v", r)
	}
	if changed["BILL_C"] != faithful["BILL_C"] || changed["R_BILL_A"] != faithful["R_BILL_A"] || len(changed) != 4 {
		t.Fatalf("other rows changed: %+v", changed)
	}
	e.sb.ClearBillDifferences()
	if again := parse(); len(again) != 4 || again["BILL_B"].SettleFen != 20000 {
		t.Fatalf("after clearing %+v", again)
	}
}
