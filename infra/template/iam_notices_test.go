package template_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// noticesPaidAsResidentsPay drives the notice payment path through the
// functions that take part in it: the notice's page (LandingFunction), the
// order with its bills reserved (OrdersFunction), the confirmation paying
// the order and its bills in one transaction from each provider's callback
// (WechatNotifyFunction, AlipayNotifyFunction), and the sweeper closing an
// expired notice payment and giving its bills back (SweeperFunction).
func noticesPaidAsResidentsPay(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	ua := map[string]string{"alipay": "Mozilla/5.0 (iPhone) AlipayClient/10.5.36", "wechat": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"}
	for i, ch := range []string{"alipay", "wechat", "expire"} {
		h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "IAM", "1", []string{"101", "102", "103"}[i], "", 1000, 250)
		n := stacktest.SeedNotice(t, s, h)
		channel := ch
		if ch == "expire" {
			channel = "alipay"
		}
		get(t, s.URLs.Gateway+"/n/"+n.ID, ua[channel])
		status, o, raw := stacktest.PayNotice(t, s, n.ID, channel, 1250, map[string]string{"wechat": "oIAMNoticePayer"}[channel])
		if status != http.StatusCreated {
			t.Fatalf("%s: pay notice: %d %s", ch, status, raw)
		}
		var err error
		switch ch {
		case "alipay":
			get(t, o.Pay.RedirectURL, ua[channel])
			err = s.Alipay().Pay(o.OrderID)
		case "wechat":
			err = s.WeChat().Pay(o.OrderID)
		case "expire":
			// Never paid; its time is up: the sweeper closes it and the bills are open again.
			if _, err = s.Store().OrderRepo().Update(ctx, o.OrderID, func(o *order.Order) error {
				o.NextCheckAt, o.ExpireAt, o.Version = time.Now().Add(-time.Minute), time.Now().Add(-time.Minute), o.Version+1
				return nil
			}); err == nil {
				_, err = s.FireSchedule(ctx, "SweeperFunction.Sweep", "")
			}
			if err != nil {
				t.Fatal(err)
			}
			stacktest.WaitFor(t, "the expired notice payment closed", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "CLOSED" })
			bills, err := s.Store().BillRepo().ListByHouse(ctx, h.CompanyID, h.ID)
			if err != nil || len(bills) != 2 || bills[0].Status != "UNPAID" || bills[1].Status != "UNPAID" {
				t.Fatalf("the closed payment's bills: %+v %v", bills, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		stacktest.WaitFor(t, ch+" notice payment paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
		bills, err := s.Store().BillRepo().ListByHouse(ctx, h.CompanyID, h.ID)
		if err != nil || len(bills) != 2 || bills[0].PaidBy.OrderID != o.OrderID || bills[1].PaidBy.OrderID != o.OrderID {
			t.Fatalf("%s: the notice's bills after payment: %+v %v", ch, bills, err)
		}
		get(t, s.URLs.Gateway+"/n/"+n.ID+"/orders/"+o.OrderID, ua[channel])
	}
}
