package alipay_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
)

func TestRefund(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	paid := e.paidTrade(t, "ORD-R1", 1000)

	res, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-R1", RefundID: "RF-1", AmountFen: 300, TotalFen: 1000, Reason: "多收"})
	if err != nil || res.Status != "SUCCESS" || res.ProviderRefundID != paid.ProviderTxnID {
		t.Fatalf("Refund = %+v, %v", res, err)
	}
	// Alipay notifies the partial refund: still paid.
	if n := e.waitNote(t); n.State != pay.TradePaid || n.OrderID != "ORD-R1" {
		t.Fatalf("partial refund notification: %+v", n)
	}
	// Idempotent retry (fund_change=N, confirmed via refund query).
	if res, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-R1", RefundID: "RF-1", AmountFen: 300, TotalFen: 1000}); err != nil || res.Status != "SUCCESS" {
		t.Fatalf("Refund retry = %+v, %v", res, err)
	}
	// Same out_request_no, different amount.
	_, err = e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-R1", RefundID: "RF-1", AmountFen: 200, TotalFen: 1000})
	if !errors.Is(err, pay.ErrProvider) || alipay.SubCode(err) != "ACQ.DISCORDANT_REPEAT_REQUEST" {
		t.Fatalf("discordant repeat: %v", err)
	}
	// More than what is left.
	_, err = e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-R1", RefundID: "RF-2", AmountFen: 701, TotalFen: 1000})
	if !errors.Is(err, pay.ErrProvider) || alipay.SubCode(err) != "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" {
		t.Fatalf("over-refund: %v", err)
	}
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-R1", RefundID: "RF-3", AmountFen: 700, TotalFen: 1000}); err != nil {
		t.Fatalf("refund the rest: %v", err)
	}
	if n := e.waitNote(t); n.State != pay.TradeRefunded {
		t.Fatalf("full refund notification: %+v", n)
	}
	if tr, err := e.p.Query(ctx, "ORD-R1"); err != nil || tr.State != pay.TradeRefunded || tr.AmountFen != 1000 {
		t.Fatalf("Query refunded = %+v, %v", tr, err)
	}

	// Unknown and unpaid trades cannot be refunded.
	_, err = e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-NONE", RefundID: "RF-9", AmountFen: 1})
	if alipay.SubCode(err) != "ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("refund unknown: %v", err)
	}
	e.openCashier(t, e.prepay(t, "ORD-UNPAID", 100, time.Time{}))
	_, err = e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-UNPAID", RefundID: "RF-10", AmountFen: 1})
	if alipay.SubCode(err) != "ACQ.TRADE_STATUS_ERROR" {
		t.Fatalf("refund unpaid: %v", err)
	}
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-R1", RefundID: "RF-11", AmountFen: 0}); err == nil {
		t.Fatal("zero refund accepted")
	}
}

func TestQueryRefund(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	paid := e.paidTrade(t, "ORD-Q1", 2000)
	refund := func(id string, fen int64) (pay.RefundResult, error) {
		// NotifyURL is WeChat's; Alipay ignores it.
		return e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-Q1", RefundID: id, AmountFen: fen, TotalFen: 2000, NotifyURL: "https://example.com/ignored"})
	}
	r1, err := refund("RQ-1", 500)
	if err != nil || r1.State != pay.RefundSuccess || r1.AmountFen != 500 {
		t.Fatalf("first partial refund: %+v %v", r1, err)
	}
	e.waitNote(t)
	e.clock.Advance(time.Minute)
	r2, err := refund("RQ-2", 700)
	if err != nil || r2.State != pay.RefundSuccess || r2.AmountFen != 700 {
		t.Fatalf("second partial refund: %+v %v", r2, err)
	}
	e.waitNote(t)
	// A replay is confirmed through the refund query and carries its time.
	if again, err := refund("RQ-1", 500); err != nil || again.State != pay.RefundSuccess || again.AmountFen != 500 || again.SucceededAt.IsZero() {
		t.Fatalf("replayed refund: %+v %v", again, err)
	}
	// 800 fen are left.
	if _, err := refund("RQ-3", 801); alipay.SubCode(err) != "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" {
		t.Fatalf("over-refund: %v", err)
	}

	q1, err := e.p.QueryRefund(ctx, "ORD-Q1", "RQ-1")
	if err != nil || q1.State != pay.RefundSuccess || q1.Status != "REFUND_SUCCESS" || q1.AmountFen != 500 || q1.ProviderRefundID != paid.ProviderTxnID {
		t.Fatalf("QueryRefund RQ-1: %+v %v", q1, err)
	}
	q2, err := e.p.QueryRefund(ctx, "ORD-Q1", "RQ-2")
	if err != nil || q2.State != pay.RefundSuccess || q2.AmountFen != 700 || q2.SucceededAt.Sub(q1.SucceededAt) != time.Minute {
		t.Fatalf("QueryRefund RQ-2: %+v (RQ-1 %+v) %v", q2, q1, err)
	}
	for _, c := range []struct{ order, refund string }{{"ORD-Q1", "RQ-3"}, {"ORD-Q1", "RQ-404"}, {"ORD-NONE", "RQ-1"}} {
		if _, err := e.p.QueryRefund(ctx, c.order, c.refund); !errors.Is(err, pay.ErrRefundNotFound) {
			t.Fatalf("QueryRefund(%s, %s): %v", c.order, c.refund, err)
		}
	}

	// Alipay sends no refund result notification.
	req := httptest.NewRequest(http.MethodPost, "/notify/alipay/x", strings.NewReader("notify_type=trade_status_sync"))
	if _, err := e.p.ParseRefundNotification(ctx, req); !errors.Is(err, pay.ErrUnsupported) {
		t.Fatalf("ParseRefundNotification: %v", err)
	}
}

func TestTradeBill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day := e.clock.Now()
	e.paidTrade(t, "ORD-B1", 1234)
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ORD-B1", RefundID: "RF-B1", AmountFen: 34, TotalFen: 1234}); err != nil {
		t.Fatal(err)
	}
	e.openCashier(t, e.prepay(t, "ORD-B2-UNPAID", 500, time.Time{}))

	// Today's bill does not exist yet.
	_, err := e.p.TradeBill(ctx, day)
	if !errors.Is(err, pay.ErrProvider) || alipay.SubCode(err) != "isp.bill_not_exist" {
		t.Fatalf("TradeBill(today) = %v", err)
	}
	e.clock.Advance(24 * time.Hour)
	zipBytes, err := e.p.TradeBill(ctx, day)
	if err != nil {
		t.Fatalf("TradeBill: %v", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		t.Fatalf("bill is not a zip: %v", err)
	}
	var detail string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "_业务明细.csv") {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			detail = string(b)
		}
	}
	if detail == "" {
		t.Fatalf("no 业务明细 in %v", zr.File)
	}
	if !strings.Contains(detail, "ORD-B1\t,交易,") || !strings.Contains(detail, ",12.34,12.34,") ||
		!strings.Contains(detail, ",-0.34,") || !strings.Contains(detail, "RF-B1") || strings.Contains(detail, "ORD-B2-UNPAID") {
		t.Fatalf("bill detail:\n%s", detail)
	}
	rows, err := alipay.BillDetail(zipBytes)
	if err != nil {
		t.Fatalf("BillDetail: %v", err)
	}
	if len(rows) != 2 || rows[0].OrderID != "ORD-B1" || rows[0].Type != "交易" || rows[0].AmountFen != 1234 || rows[0].ReceivedFen != 1234 ||
		rows[1].Type != "退款" || rows[1].ReceivedFen != -34 || rows[1].RefundRequestNo != "RF-B1" || rows[0].TradeNo == "" ||
		!rows[0].FinishedAt.Equal(day) {
		t.Fatalf("rows = %+v", rows)
	}
	// The previous day's bill is empty but exists.
	prev, err := e.p.TradeBill(ctx, day.AddDate(0, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := alipay.BillDetail(prev); err != nil || len(rows) != 0 {
		t.Fatalf("previous day rows = %+v, %v", rows, err)
	}
}
