package wechatpay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

func TestNotificationRejections(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, nil)
	const order = "FORGE_00001"
	e.prepay(t, order, 777, "oForge")
	if err := e.sb.Pay(order); err != nil {
		t.Fatal(err)
	}
	if got := e.next(t); got.err != nil {
		t.Fatal(got.err)
	}
	ctx := context.Background()
	parse := func(o wechat.NotifyOptions) (pay.Notification, error) {
		req, err := e.sb.SignedNotification(ctx, order, o)
		if err != nil {
			t.Fatal(err)
		}
		return e.p.ParseNotification(ctx, req)
	}

	// The unmodified replay parses (idempotency is the caller's job).
	if n, err := parse(wechat.NotifyOptions{EventID: "evt-1"}); err != nil || n.OrderID != order || n.EventID != "evt-1" || n.AmountFen != 777 {
		t.Fatalf("genuine: %+v %v", n, err)
	}

	cases := []struct {
		name string
		o    wechat.NotifyOptions
		want error
	}{
		{"forged signature", wechat.NotifyOptions{SigningKey: keys().other}, pay.ErrBadSignature},
		{"ciphertext tampered in transit", wechat.NotifyOptions{TamperAfterSign: true}, pay.ErrBadSignature},
		{"tampered ciphertext re-signed", wechat.NotifyOptions{TamperCiphertext: true}, pay.ErrBadSignature},
		{"stale timestamp", wechat.NotifyOptions{Timestamp: time.Now().Add(-6 * time.Minute)}, pay.ErrStaleTimestamp},
		{"future timestamp", wechat.NotifyOptions{Timestamp: time.Now().Add(6 * time.Minute)}, pay.ErrStaleTimestamp},
		{"wrong key id", wechat.NotifyOptions{KeyID: "PUB_KEY_ID_0000000000000000000000000000000000"}, pay.ErrBadSignature},
		{"wrong apiv3 key", wechat.NotifyOptions{APIv3Key: "ffffffffffffffffffffffffffffffff"}, pay.ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.o)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}

	t.Run("missing signature header", func(t *testing.T) {
		req, _ := e.sb.SignedNotification(ctx, order, wechat.NotifyOptions{})
		req.Header.Del("Wechatpay-Signature")
		if _, err := e.p.ParseNotification(ctx, req); !errors.Is(err, pay.ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("body replaced", func(t *testing.T) {
		req, _ := e.sb.SignedNotification(ctx, order, wechat.NotifyOptions{})
		req.Body = io.NopCloser(bytes.NewReader([]byte(`{"id":"x"}`)))
		if _, err := e.p.ParseNotification(ctx, req); !errors.Is(err, pay.ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other merchant", func(t *testing.T) {
		// A partner-mode provider does not accept a direct merchant's callback
		// even with the right keys.
		cfg := e.cfg
		cfg.Mode, cfg.SpAppID, cfg.SpMchID, cfg.SubMchID = wechatpay.ModePartner, spAppID, spMchID, subMchID
		p, err := wechatpay.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := e.sb.SignedNotification(ctx, order, wechat.NotifyOptions{})
		if _, err := p.ParseNotification(ctx, req); !errors.Is(err, pay.ErrMalformed) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCallbackRetriesUntilAccepted(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, []time.Duration{time.Millisecond, 2 * time.Millisecond, time.Millisecond, time.Millisecond})
	e.status = func(n int) int {
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	deliveries, stop := e.sb.Subscribe()
	defer stop()
	e.prepay(t, "RETRY_00001", 100, "oR")
	if err := e.sb.Pay("RETRY_00001"); err != nil {
		t.Fatal(err)
	}
	var got []wechat.Delivery
	for len(got) == 0 || !got[len(got)-1].Final {
		select {
		case d := <-deliveries:
			got = append(got, d)
		case <-time.After(10 * time.Second):
			t.Fatalf("deliveries so far: %+v", got)
		}
	}
	if len(got) != 3 || got[0].Status != 500 || got[1].Status != 500 || !got[2].OK || got[2].Status != 204 || got[2].Attempt != 3 {
		t.Fatalf("deliveries %+v", got)
	}
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		p := e.next(t)
		if p.err != nil {
			t.Fatalf("retry %d did not verify: %v", i+1, p.err)
		}
		ids[p.n.EventID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("retries must carry the same notification id, got %v", ids)
	}
	if n := len(e.sb.Deliveries()); n != 3 {
		t.Fatalf("Deliveries() = %d", n)
	}
}

func TestCallbackGivesUp(t *testing.T) {
	e := newEnv(t, wechatpay.ModeDirect, []time.Duration{time.Millisecond, time.Millisecond})
	e.status = func(int) int { return http.StatusBadGateway }
	deliveries, stop := e.sb.Subscribe()
	defer stop()
	e.prepay(t, "GIVEUP_0001", 100, "oR")
	if err := e.sb.Pay("GIVEUP_0001"); err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		select {
		case d := <-deliveries:
			if d.OK || d.Attempt != n {
				t.Fatalf("delivery %+v", d)
			}
			if d.Final {
				if n != 3 {
					t.Fatalf("gave up after %d attempts, want 1 + 2 retries", n)
				}
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("timeout")
		}
	}
}
