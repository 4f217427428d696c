package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	alipaysb "github.com/estatepay/estatepay/infra/sandbox/alipay"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/payments"
)

func sweep(t testing.TB, s *stack.Stack) payments.SweepReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.FireSchedule(ctx, "SweeperFunction.Sweep", "")
	if err != nil {
		t.Fatalf("sweep: %v (%s)", err, out)
	}
	var rep payments.SweepReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("sweep result %s: %v", out, err)
	}
	t.Logf("sweep: %+v", rep)
	return rep
}

// backdate rewrites order fields as a test fixture: the sweeper compares with
// the wall clock, so "10 minutes later" is simulated by moving the order's
// timestamps into the past.
func backdate(t testing.TB, s *stack.Stack, id string, set map[string]types.AttributeValue) {
	t.Helper()
	var parts []string
	vals := map[string]types.AttributeValue{}
	names := map[string]string{}
	i := 0
	for k, v := range set {
		i++
		n, p := "#n"+string(rune('a'+i)), ":v"+string(rune('a'+i))
		names[n], vals[p] = k, v
		parts = append(parts, n+" = "+p)
	}
	_, err := s.Store().DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Tables["OrdersTable"]),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}},
		UpdateExpression:          aws.String("SET " + strings.Join(parts, ", ")),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if err != nil {
		t.Fatalf("backdate %s: %v", id, err)
	}
}

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func workAt(t time.Time) types.AttributeValue {
	return sv(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

func timeAttr(t time.Time) types.AttributeValue { return sv(t.UTC().Format(time.RFC3339Nano)) }

// wechatQuery builds our own WeChat Pay adapter for the demo merchant, to ask
// the sandbox about a trade the way the product does.
func wechatQuery(t testing.TB, s *stack.Stack, id string) pay.Trade {
	t.Helper()
	k := s.Keys()
	p, err := wechatpay.New(wechatpay.Config{Mode: wechatpay.ModeDirect, AppID: stack.DemoWeChatAppID, MchID: stack.DemoWeChatMchID,
		MerchantSerialNo: stack.DemoWeChatSerialNo, MerchantPrivateKey: k.WeChatMerchant, APIv3Key: k.APIv3Key,
		PlatformPublicKeyID: stack.DemoWeChatPublicKeyID, PlatformPublicKey: &k.WeChatPlatform.PublicKey, BaseURL: s.URLs.WeChatSandbox})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.Query(context.Background(), id)
	if err != nil {
		t.Fatalf("query %s: %v", id, err)
	}
	return tr
}

func openCashier(t testing.TB, o stacktest.OrderView) {
	t.Helper()
	resp, err := stacktest.HTTPClient.Get(o.Pay.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cashier: %d", resp.StatusCode)
	}
}

// TestSweeper runs the scheduled SweeperFunction against the real stack.
func TestSweeper(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	token := stacktest.CommunityToken(t, s, "demo-both")
	openID := wechatsb.OpenID(stack.DemoWeChatAppID, "resident-sweep")
	past := time.Now().Add(-30 * time.Minute)

	t.Run("NothingDue", func(t *testing.T) {
		// A fresh pending order is not due yet (SweepAfter 2 minutes).
		o := stacktest.CreateOrder(t, s, token, "wechat", 100, openID)
		rep := sweep(t, s)
		if rep != (payments.SweepReport{}) {
			t.Fatalf("report %+v, want nothing examined", rep)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != domain.OrderPending {
			t.Fatalf("order %+v", st)
		}
		// Leave it out of the next subtests: close it at the provider and here.
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"expire_at": timeAttr(past), "work_at": workAt(past)})
		if rep := sweep(t, s); rep.Closed != 1 {
			t.Fatalf("report %+v", rep)
		}
	})

	t.Run("PendingNotExpired", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 101, openID)
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"work_at": workAt(past)})
		rep := sweep(t, s)
		if rep.Paid != 0 || rep.Closed != 0 || rep.Failed != 0 || rep.Examined < 1 {
			t.Fatalf("report %+v", rep)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != domain.OrderPending {
			t.Fatalf("order %+v", st)
		}
		if tr := wechatQuery(t, s, o.OrderID); tr.State != pay.TradePending {
			t.Fatalf("sandbox trade %+v", tr)
		}
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"expire_at": timeAttr(past)})
		if rep := sweep(t, s); rep.Closed != 1 {
			t.Fatalf("report %+v", rep)
		}
	})

	t.Run("ExpiredWeChatOrderClosed", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 4321, openID)
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"expire_at": timeAttr(past), "work_at": workAt(past), "created_at": timeAttr(past)})
		rep := sweep(t, s)
		if rep.Closed != 1 || rep.Paid != 0 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != domain.OrderClosed || st.ClosedAt == nil || st.PaidAt != nil {
			t.Fatalf("order %+v", st)
		}
		if v := stacktest.GetOrder(t, s, o.OrderID); v.Status != "CLOSED" {
			t.Fatalf("GET order %+v", v)
		}
		if tr := wechatQuery(t, s, o.OrderID); tr.State != pay.TradeClosed {
			t.Fatalf("sandbox trade not closed: %+v", tr)
		}
		if err := s.WeChat().Pay(o.OrderID); !errors.Is(err, wechatsb.ErrTradeState) {
			t.Fatalf("paying a closed trade at the sandbox: %v", err)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("%d events", n)
		}
	})

	t.Run("ExpiredAlipayOrders", func(t *testing.T) {
		opened := stacktest.CreateOrder(t, s, token, "alipay", 600, "")
		openCashier(t, opened)
		neverOpened := stacktest.CreateOrder(t, s, token, "alipay", 601, "")
		for _, id := range []string{opened.OrderID, neverOpened.OrderID} {
			backdate(t, s, id, map[string]types.AttributeValue{"expire_at": timeAttr(past), "work_at": workAt(past)})
		}
		rep := sweep(t, s)
		if rep.Closed != 2 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		for _, id := range []string{opened.OrderID, neverOpened.OrderID} {
			if st := stacktest.StoredOrder(t, s, id); st.Status != domain.OrderClosed {
				t.Fatalf("order %+v", st)
			}
		}
		if st, err := s.Alipay().TradeStatus(opened.OrderID); err != nil || st != alipaysb.StatusClosed {
			t.Fatalf("sandbox trade: %q %v", st, err)
		}
		if err := s.Alipay().Pay(opened.OrderID); !errors.Is(err, alipaysb.ErrNotPayable) {
			t.Fatalf("paying a closed trade: %v", err)
		}
	})

	t.Run("PaidEventNeverSent", func(t *testing.T) {
		o := stacktest.CreateOrder(t, s, token, "wechat", 999, openID)
		paidAt := past.Truncate(time.Second)
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{
			"status": sv("PAID"), "paid_at": timeAttr(paidAt), "provider_txn_id": sv("4200000000202601010000000042"),
			"work_at": workAt(paidAt), "rec_pk": sv("demo-both"), "rec_sk": sv(paidAt.UTC().Format("2006-01-02T15:04:05.000Z") + "#" + o.OrderID),
		})
		rep := sweep(t, s)
		if rep.EventsSent != 1 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 || evs[0].OrderID != o.OrderID || evs[0].AmountFen != 999 || evs[0].Channel != "wechat" ||
			evs[0].ProviderTxnID != "4200000000202601010000000042" || !evs[0].PaidAt.Equal(paidAt) {
			t.Fatalf("events %+v", evs)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); !st.EventSent || st.Status != domain.OrderPaid {
			t.Fatalf("order %+v", st)
		}
		if rep := sweep(t, s); rep.EventsSent != 0 {
			t.Fatalf("second sweep re-sent: %+v", rep)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("second sweep emitted %d events", n)
		}
	})

	t.Run("PaidEventLeaseHeld", func(t *testing.T) {
		// Another delivery holds the event lease: the sweeper leaves it alone
		// until the lease expires, then sends exactly one event.
		o := stacktest.CreateOrder(t, s, token, "wechat", 998, openID)
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{
			"status": sv("PAID"), "paid_at": timeAttr(past), "provider_txn_id": sv("4200000000202601010000000043"), "work_at": workAt(past),
			"event_lease": &types.AttributeValueMemberN{Value: "9999999999999"},
		})
		if rep := sweep(t, s); rep.EventsSent != 0 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("sent despite the lease: %d", n)
		}
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"event_lease": &types.AttributeValueMemberN{Value: "1"}})
		if rep := sweep(t, s); rep.EventsSent != 1 {
			t.Fatalf("report %+v", rep)
		}
		if evs := stacktest.DrainEvents(t, s); len(evs) != 1 || evs[0].OrderID != o.OrderID {
			t.Fatalf("events %+v", evs)
		}
	})

	t.Run("CallbackLost", func(t *testing.T) {
		// Paid at WeChat, but every callback delivery fails (our interface
		// record is briefly unusable for callbacks, so they are rejected). The
		// sandbox gives up; the sweeper finds the payment by querying.
		o := stacktest.CreateOrder(t, s, token, "wechat", 2468, openID)
		iface, err := s.Store().GetInterface(ctx, "demo-wechat")
		if err != nil {
			t.Fatal(err)
		}
		broken := iface
		broken.Channel = domain.Alipay
		if err := s.Store().PutInterface(ctx, broken); err != nil {
			t.Fatal(err)
		}
		restored := false
		restore := func() {
			if !restored {
				restored = true
				if err := s.Store().PutInterface(ctx, iface); err != nil {
					t.Fatal(err)
				}
			}
		}
		defer restore()
		deliveries, stop := s.WeChat().Subscribe()
		defer stop()
		if err := s.WeChat().Pay(o.OrderID); err != nil {
			t.Fatal(err)
		}
		attempts := 0
		deadline := time.After(30 * time.Second)
	wait:
		for {
			select {
			case d := <-deliveries:
				if d.OutTradeNo != o.OrderID {
					continue
				}
				attempts++
				if d.OK || d.Status != http.StatusBadRequest {
					t.Fatalf("delivery should have been rejected: %+v", d)
				}
				if d.Final {
					break wait
				}
			case <-deadline:
				t.Fatal("sandbox did not give up delivering")
			}
		}
		restore()
		if attempts < 2 {
			t.Fatalf("only %d delivery attempts", attempts)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != domain.OrderPending || stacktest.QueueDepth(t, s) != 0 {
			t.Fatalf("order changed without a callback: %+v", st)
		}
		tr := wechatQuery(t, s, o.OrderID)
		if tr.State != pay.TradePaid {
			t.Fatalf("sandbox trade %+v", tr)
		}
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"work_at": workAt(past)})
		rep := sweep(t, s)
		if rep.Paid != 1 || rep.Failed != 0 {
			t.Fatalf("report %+v", rep)
		}
		st := stacktest.StoredOrder(t, s, o.OrderID)
		if st.Status != domain.OrderPaid || !st.EventSent || st.ProviderTxnID != tr.ProviderTxnID || st.PaidAt == nil ||
			!st.PaidAt.Equal(tr.PaidAt) || st.PayerID != openID {
			t.Fatalf("order %+v, sandbox %+v", st, tr)
		}
		evs := stacktest.DrainEvents(t, s)
		if len(evs) != 1 || evs[0].OrderID != o.OrderID || evs[0].AmountFen != 2468 || evs[0].ProviderTxnID != tr.ProviderTxnID {
			t.Fatalf("events %+v", evs)
		}
		if rep := sweep(t, s); rep.Paid != 0 || rep.EventsSent != 0 {
			t.Fatalf("second sweep: %+v", rep)
		}
		if n := stacktest.QueueDepth(t, s); n != 0 {
			t.Fatalf("second sweep emitted %d events", n)
		}
	})

	t.Run("PerOrderFailureDoesNotFailInvocation", func(t *testing.T) {
		// One order cannot be swept (its interface is gone): the run still
		// succeeds, counts the failure and keeps the order for the next run.
		o := stacktest.CreateOrder(t, s, token, "wechat", 321, openID)
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"iface_id": sv("gone-iface"), "work_at": workAt(past)})
		rep := sweep(t, s) // fails the test if the invocation errors
		if rep.Failed != 1 || rep.Closed != 0 || rep.Paid != 0 {
			t.Fatalf("report %+v", rep)
		}
		if st := stacktest.StoredOrder(t, s, o.OrderID); st.Status != domain.OrderPending || st.WorkPK == "" {
			t.Fatalf("order %+v", st)
		}
		// A failed order goes to the back of the work index (so it cannot starve
		// the others) and is due again one sweep delay later: backdate that too.
		backdate(t, s, o.OrderID, map[string]types.AttributeValue{"iface_id": sv("demo-wechat"), "expire_at": timeAttr(past), "work_at": workAt(past)})
		if rep := sweep(t, s); rep.Failed != 0 || rep.Closed != 1 {
			t.Fatalf("after repair: %+v", rep)
		}
	})

	t.Run("WorkIndexDrained", func(t *testing.T) {
		// Every order above is final (closed, or paid with its event sent):
		// none should be left in the sweeper's work index.
		if rep := sweep(t, s); rep.Examined != 0 {
			t.Errorf("sweeper still examines %d finished orders: closed/paid orders were not removed from the work index "+
				"(the local DynamoDB ignores UpdateItem REMOVE clauses)", rep.Examined)
		}
	})
}
