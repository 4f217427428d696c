package alipay_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sandbox "github.com/estatepay/estatepay/infra/sandbox/alipay"
	"github.com/estatepay/estatepay/shared/pay"
)

func notifyRequest(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notify/alipay/iface1", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestParseNotificationRejectsForgeries(t *testing.T) {
	e := newEnv(t)
	e.paidTrade(t, "ORD-N1", 1234)
	base, err := e.sb.NotificationFor("ORD-N1")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(form url.Values) (pay.Notification, error) {
		return e.p.ParseNotification(context.Background(), notifyRequest(form))
	}
	good, err := base.Form(alipayKey)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := parse(good); err != nil || n.AmountFen != 1234 || n.State != pay.TradePaid || n.OrderID != "ORD-N1" {
		t.Fatalf("genuine notification: %+v, %v", n, err)
	}

	cases := []struct {
		name string
		form func() url.Values
		want error
	}{
		{"tampered amount", func() url.Values { f := clone(good); f.Set("total_amount", "0.01"); return f }, pay.ErrBadSignature},
		{"tampered status", func() url.Values { f := clone(good); f.Set("trade_status", "TRADE_CLOSED"); return f }, pay.ErrBadSignature},
		{"added empty param", func() url.Values { f := clone(good); f.Set("body", ""); return f }, pay.ErrBadSignature},
		{"missing sign", func() url.Values { f := clone(good); f.Del("sign"); return f }, pay.ErrBadSignature},
		{"garbage sign", func() url.Values { f := clone(good); f.Set("sign", "!!notbase64"); return f }, pay.ErrBadSignature},
		{"rogue key", func() url.Values { f, _ := base.Form(rogueKey); return f }, pay.ErrBadSignature},
		{"RSA sign_type", func() url.Values { f := clone(good); f.Set("sign_type", "RSA"); return f }, pay.ErrBadSignature},
		{"other app", func() url.Values { n := base; n.AppID = "2021999999999999"; f, _ := n.Form(alipayKey); return f }, pay.ErrMalformed},
		{"other seller", func() url.Values { n := base; n.SellerID = "2088999999999999"; f, _ := n.Form(alipayKey); return f }, pay.ErrMalformed},
		{"three decimals", func() url.Values {
			f := clone(good)
			f.Set("total_amount", "12.345")
			_ = sandbox.SignForm(alipayKey, f)
			return f
		}, pay.ErrMalformed},
		{"unknown status", func() url.Values { n := base; n.TradeStatus = "TRADE_WEIRD"; f, _ := n.Form(alipayKey); return f }, pay.ErrMalformed},
		{"no out_trade_no", func() url.Values { n := base; n.OutTradeNo = ""; f, _ := n.Form(alipayKey); return f }, pay.ErrMalformed},
		{"empty body", func() url.Values { return url.Values{} }, pay.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.form())
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func clone(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func TestNotifyRetriedUntilSuccess(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) {
		c.RetrySchedule = []time.Duration{time.Millisecond, 2 * time.Millisecond, time.Millisecond, time.Millisecond}
	})
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 2:
			_, _ = w.Write([]byte("fail")) // 200 but not "success": still a failure
		case 3:
			_, _ = w.Write([]byte("success\n")) // not exactly "success"
		default:
			if _, err := e.p.ParseNotification(r.Context(), r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte("success"))
		}
	}))
	defer flaky.Close()
	res, err := e.p.Prepay(context.Background(), pay.PrepayRequest{OrderID: "ORD-RETRY", AmountFen: 99, Description: "水费", NotifyURL: flaky.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.openCashier(t, res.RedirectURL)
	if err := e.sb.Pay("ORD-RETRY"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for attempt := 1; attempt <= 4; attempt++ {
		d := e.waitDelivery(t)
		ids = append(ids, d.NotifyID)
		if d.Attempt != attempt || d.Acked != (attempt == 4) || d.GaveUp {
			t.Fatalf("attempt %d: %+v", attempt, d)
		}
	}
	if ids[0] == "" || ids[0] != ids[3] {
		t.Fatalf("notify_id changed across retries: %v", ids)
	}
	select {
	case d := <-e.deliveries:
		t.Fatalf("unexpected delivery after ack: %+v", d)
	default:
	}
}

func TestNotifyGivesUpAfterSchedule(t *testing.T) {
	e := newEnv(t, func(c *sandbox.Config) { c.RetrySchedule = []time.Duration{time.Millisecond, time.Millisecond} })
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer down.Close()
	res, err := e.p.Prepay(context.Background(), pay.PrepayRequest{OrderID: "ORD-DOWN", AmountFen: 99, Description: "水费", NotifyURL: down.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.openCashier(t, res.RedirectURL)
	if err := e.sb.Pay("ORD-DOWN"); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		d := e.waitDelivery(t)
		if d.Attempt != attempt || d.Acked || d.StatusCode != http.StatusBadGateway || d.GaveUp != (attempt == 3) {
			t.Fatalf("attempt %d: %+v", attempt, d)
		}
	}
}
