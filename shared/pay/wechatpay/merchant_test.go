package wechatpay_test

import (
	"context"
	"errors"
	"testing"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// edit is a change to a transaction as WeChat Pay reports it.
type edit struct {
	name string
	f    func(map[string]any)
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func del(k string) func(map[string]any)        { return func(m map[string]any) { delete(m, k) } }

var directForgeries = []edit{
	{"no mchid", del("mchid")},
	{"other mchid", set("mchid", "1900000999")},
	{"no appid", del("appid")},
	{"other appid", set("appid", "wx0000000000000000")},
	{"partner fields on a direct trade", set("sp_mchid", "1900000109")},
}

var partnerForgeries = []edit{
	{"no sub_mchid", del("sub_mchid")},
	{"other sub_mchid", set("sub_mchid", "1900000999")},
	{"other sp_mchid", set("sp_mchid", "1900000999")},
	{"no sp_appid", del("sp_appid")},
	{"other sp_appid", set("sp_appid", "wx0000000000000000")},
	{"no sub_appid", del("sub_appid")},
	{"other sub_appid", set("sub_appid", "wx0000000000000000")},
}

// paidOrder opens and pays an order and consumes its genuine callback.
func paidOrder(t *testing.T, e *env, order string) {
	t.Helper()
	e.prepay(t, order, 321, "oMerchantCheck0000000000001")
	if err := e.sb.Pay(order); err != nil {
		t.Fatal(err)
	}
	if got := e.next(t); got.err != nil {
		t.Fatal(got.err)
	}
}

// C1 on callbacks: a genuinely signed callback counts only if WeChat Pay names
// this interface's merchant and app in it; a missing id never matches.
func TestCallbackMustNameOurMerchantAndApp(t *testing.T) {
	for _, mode := range []string{wechatpay.ModeDirect, wechatpay.ModePartner} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, mode, nil)
			const order = "C1_NOTIFY_001"
			paidOrder(t, e, order)
			ctx := context.Background()
			parse := func(f func(map[string]any)) (pay.Notification, error) {
				req, err := e.sb.SignedNotification(ctx, order, wechat.NotifyOptions{Transaction: f})
				if err != nil {
					t.Fatal(err)
				}
				return e.p.ParseNotification(ctx, req)
			}
			n, err := parse(nil)
			wantMerchant, wantApp := directMchID, directAppID
			forgeries := directForgeries
			if mode == wechatpay.ModePartner {
				wantMerchant, wantApp, forgeries = subMchID, spAppID, partnerForgeries
			}
			if err != nil || n.MerchantID != wantMerchant || n.AppID != wantApp {
				t.Fatalf("genuine callback: %+v %v", n, err)
			}
			for _, f := range forgeries {
				if n, err := parse(f.f); !errors.Is(err, pay.ErrMalformed) {
					t.Errorf("%s: accepted (%+v, %v)", f.name, n.Trade, err)
				}
			}
		})
	}
}

// C1 on queries (the sweeper's path after a lost callback): the trade reports
// the merchant and app WeChat Pay returned, and an answer naming another
// merchant or app, or none, is an error rather than a report for our order.
func TestQueryMustNameOurMerchantAndApp(t *testing.T) {
	for _, mode := range []string{wechatpay.ModeDirect, wechatpay.ModePartner} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, mode, nil)
			const order = "C1_QUERY_001"
			paidOrder(t, e, order)
			ctx := context.Background()
			wantMerchant, wantApp := directMchID, directAppID
			forgeries := directForgeries
			if mode == wechatpay.ModePartner {
				wantMerchant, wantApp, forgeries = subMchID, spAppID, partnerForgeries
			}
			tr, err := e.p.Query(ctx, order)
			if err != nil || tr.State != pay.TradePaid || tr.MerchantID != wantMerchant || tr.AppID != wantApp {
				t.Fatalf("genuine query: %+v %v", tr, err)
			}
			forgeries = append(forgeries, edit{"other out_trade_no", set("out_trade_no", "C1_QUERY_999")})
			for _, f := range forgeries {
				if f.name == "partner fields on a direct trade" {
					continue // the direct query model has no sp_mchid to carry it
				}
				e.sb.EditQueryAnswers(order, f.f)
				if tr, err := e.p.Query(ctx, order); !errors.Is(err, pay.ErrProvider) {
					t.Errorf("%s: query answer accepted: %+v, %v", f.name, tr, err)
				}
			}
			e.sb.EditQueryAnswers(order, nil)
			if _, err := e.p.Query(ctx, order); err != nil {
				t.Fatalf("honest answer again: %v", err)
			}
		})
	}
}

// Bug 1, adapter side: only REFUND (reached from SUCCESS) is TradeRefunded;
// closed or failed trades are never reported as refunded or paid.
func TestTradeStateMapping(t *testing.T) {
	for in, want := range map[string]pay.TradeState{
		"SUCCESS": pay.TradePaid, "REFUND": pay.TradeRefunded,
		"CLOSED": pay.TradeClosed, "REVOKED": pay.TradeClosed, "PAYERROR": pay.TradeClosed,
		"NOTPAY": pay.TradePending, "USERPAYING": pay.TradePending, "ACCEPT": pay.TradePending,
	} {
		if got := wechatpay.TradeState(in); got != want {
			t.Errorf("TradeState(%s) = %s, want %s", in, got, want)
		}
	}
}
