package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/store"
)

// TestNoticeTwoPayersAtOnce: two residents open the same payment notice in
// Alipay and press 支付 at the same moment. Exactly one reaches the cashier
// (one trade, one order); the other is told 正在支付 and is never charged.
// After the first pays, the notice shows 已缴清 and asks nothing.
func TestNoticeTwoPayersAtOnce(t *testing.T) {
	browser := startBrowser(t)
	s := stacktest.Start(t)
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "8", "1", "601", "王五", 12000, 3050)
	n := stacktest.SeedNotice(t, s, h)
	url := s.URLs.Gateway + "/n/" + n.ID

	tabs := []context.Context{newTab(t, browser, alipayUA), newTab(t, browser, alipayUA)}
	for i, tab := range tabs {
		do(t, tab, "open the notice", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("pay")))
		if got := textOf(t, tab, "total"); got != "¥150.50" {
			t.Fatalf("tab %d: total %q, want ¥150.50", i, got)
		}
		if got := textOf(t, tab, "house"); !strings.Contains(got, "8栋1单元601") || strings.Contains(got, "王五") {
			t.Fatalf("tab %d: house line %q (the owner's name is masked on a printed URL)", i, got)
		}
	}
	screenshots(t, tabs[0], "notice")

	var wg sync.WaitGroup
	for _, tab := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("pay").click(), true`))
		}()
	}
	wg.Wait()

	// One tab goes to the Alipay cashier, the other is told.
	winner, loser := -1, -1
	eventually(t, tabs[0], 30*time.Second, "one payer at the cashier, the other told", func() (bool, string) {
		states := make([]string, 2)
		for i, tab := range tabs {
			qctx, cancel := context.WithTimeout(tab, 2*time.Second)
			loc, _ := chromedp.Run(qctx, chromedp.Location())
			text, _ := chromedp.Run(qctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			cancel()
			switch {
			case strings.HasPrefix(loc, s.URLs.AlipayGateway) || strings.HasPrefix(loc, s.URLs.AlipaySandbox):
				states[i] = "cashier"
			case strings.Contains(text, "正在支付"):
				states[i] = "told"
			}
		}
		switch {
		case states[0] == "cashier" && states[1] == "told":
			winner, loser = 0, 1
		case states[1] == "cashier" && states[0] == "told":
			winner, loser = 1, 0
		}
		return winner >= 0, strings.Join(states, ",")
	})
	if orders := noticeOrders(t, s, n.ID); len(orders) != 1 {
		t.Fatalf("%d orders for the notice, want 1: %+v", len(orders), orders)
	}

	do(t, tabs[winner], "pay on the cashier", chromedp.WaitVisible(chromedp.CSS("#cashier #pay")), chromedp.Click(chromedp.CSS("#cashier #pay")))
	waitLocation(t, tabs[winner], "the notice's receipt", func(l string) bool { return strings.HasPrefix(l, url+"/orders/") })
	waitStatus(t, tabs[winner], statusPaid)
	if got := textOf(t, tabs[winner], "house"); got != "8栋1单元601" {
		t.Errorf("receipt house %q", got)
	}
	screenshots(t, tabs[winner], "notice-receipt")

	do(t, tabs[loser], "reload the notice", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("settled")))
	if has := run(t, tabs[loser], "pay button", chromedp.Evaluate[bool](`!!document.getElementById("pay")`)); has {
		t.Fatal("a settled notice still offers to pay")
	}
	screenshots(t, tabs[loser], "notice-settled")
	bills, err := s.Store().BillRepo().ListByHouse(context.Background(), h.CompanyID, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	orders := noticeOrders(t, s, n.ID)
	for _, b := range bills {
		if b.Status != bill.Paid || b.PaidBy.OrderID != orders[0].ID {
			t.Fatalf("bill %+v, want paid by %s", b, orders[0].ID)
		}
	}
}

// noticeOrders lists the stored orders of a notice.
func noticeOrders(t *testing.T, s *stack.Stack, noticeID string) []order.Order {
	t.Helper()
	var out []order.Order
	for _, o := range stacktest.ScanOrders(t, s.Store()) {
		if o.NoticeID == noticeID {
			out = append(out, o)
		}
	}
	return out
}

// TestNoticeLateConfirmationRefunded: a payment's reservation expires, a
// second payment pays the notice's bills, and then the first payment's money
// arrives after all. The bills stay paid once (by the second); the first
// payment is refunded in full automatically through Alipay, recorded, and
// its receipt says so.
func TestNoticeLateConfirmationRefunded(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "9", "2", "902", "", 8800, 1200)
	n := stacktest.SeedNotice(t, s, h)
	get := func(u string) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("User-Agent", alipayUA)
		resp, err := stacktest.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	status, first, raw := stacktest.PayNotice(t, s, n.ID, "alipay", 10000, "")
	if status != http.StatusCreated {
		t.Fatalf("first payment: %d %s", status, raw)
	}
	get(first.Pay.RedirectURL) // the trade is open at Alipay
	if status, _, raw := stacktest.PayNotice(t, s, n.ID, "alipay", 10000, ""); status != http.StatusConflict || !strings.Contains(string(raw), "notice_paying") {
		t.Fatalf("second payer while the first holds the bills: %d %s", status, raw)
	}

	// The first payment's reservation lapses (as if its time had passed).
	expireReservations(t, s, h.CompanyID, h.ID)
	status, second, raw := stacktest.PayNotice(t, s, n.ID, "alipay", 10000, "")
	if status != http.StatusCreated {
		t.Fatalf("second payment: %d %s", status, raw)
	}
	get(second.Pay.RedirectURL)
	if err := s.Alipay().Pay(second.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the second payment paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, second.OrderID).Status == "PAID" })

	// The first payer's money arrives after all.
	if err := s.Alipay().Pay(first.OrderID); err != nil {
		t.Fatal(err)
	}
	// Alipay's TRADE_CLOSED notification may mark the order REFUNDED before
	// the refund itself is confirmed: wait for both.
	stacktest.WaitFor(t, "the late payment refunded", 30*time.Second, func() bool {
		o := stacktest.StoredOrder(t, s, first.OrderID)
		return o.Status == order.Refunded && o.RefundedFen == o.AmountFen
	})
	o := stacktest.StoredOrder(t, s, first.OrderID)
	if !o.BillsRefused || o.RefundedFen != 10000 || len(o.RefundIDs) != 1 {
		t.Fatalf("late payment: %+v", o)
	}
	rf, err := s.Store().OrderRepo().GetRefund(ctx, o.RefundIDs[0])
	if err != nil || rf.Status != refund.Succeeded || rf.By != "auto" || rf.AmountFen != 10000 {
		t.Fatalf("automatic refund: %+v %v", rf, err)
	}
	if st, err := s.Alipay().TradeStatus(first.OrderID); err != nil || st != "TRADE_CLOSED" {
		t.Errorf("the first trade at Alipay: %q %v, want TRADE_CLOSED (refunded in full)", st, err)
	}
	bills, err := s.Store().BillRepo().ListByHouse(ctx, h.CompanyID, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bills {
		if b.Status != bill.Paid || b.PaidBy.OrderID != second.OrderID {
			t.Fatalf("bill %+v, want paid once, by the second payment", b)
		}
	}
	// The status API and the receipt tell the first payer.
	var view struct {
		Status       string `json:"status"`
		BillsRefused bool   `json:"bills_refused"`
		RefundedFen  int64  `json:"refunded_fen"`
	}
	resp, err := stacktest.HTTPClient.Get(s.URLs.Gateway + "/api/orders/" + first.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&view)
	resp.Body.Close()
	if view.Status != "REFUNDED" || !view.BillsRefused || view.RefundedFen != 10000 {
		t.Fatalf("status API: %+v", view)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URLs.Gateway+"/n/"+n.ID+"/orders/"+first.OrderID, nil)
	req.Header.Set("User-Agent", alipayUA)
	resp, err = stacktest.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "已退款") || !strings.Contains(string(body), "款项已原路退回") {
		t.Fatalf("receipt of the refunded payment: %s", body)
	}
	// One refund event, netted on the dashboard's day.
	stacktest.WaitFor(t, "the relay to catch up", 20*time.Second, s.StreamsCaughtUp)
	var refunds int
	for _, e := range stacktest.DrainEvents(t, s) {
		if e.Type == refund.EventSucceeded && e.OrderID == first.OrderID && e.AmountFen == 10000 {
			refunds++
		}
	}
	if refunds != 1 {
		t.Fatalf("%d refund.succeeded events for the late payment, want 1", refunds)
	}
}

// expireReservations moves the reservations of a house's bills into the past.
func expireReservations(t *testing.T, s *stack.Stack, companyID, houseID string) {
	t.Helper()
	ctx := context.Background()
	bills, err := s.Store().BillRepo().ListByHouse(ctx, companyID, houseID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bills {
		b, err = s.Store().BillRepo().Get(ctx, b.ID)
		if err != nil || b.Status != bill.Reserved {
			t.Fatalf("bill %+v %v, want reserved", b, err)
		}
		b.ReservedUntil = time.Now().Add(-time.Second)
		item, err := store.EncodeBill(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store().DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Store().Bills), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
}
