package settlement

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/pay/alipay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/store"
)

// BillLine is one line of a provider's trade bill, whatever the provider.
type BillLine struct {
	OrderID       string // our out_trade_no
	ProviderTxnID string
	Refund        bool
	RefundID      string // our out_refund_no / out_request_no (refunds)
	AmountFen     int64  // the payment's amount, or the refund's (positive)
	FeeFen        int64  // fee charged (payments); negative: given back (refunds)
	At            time.Time
}

// WeChatLines are the lines of a parsed WeChat Pay trade bill.
func WeChatLines(rows []wechatpay.BillRow) []BillLine {
	out := make([]BillLine, 0, len(rows))
	for _, r := range rows {
		l := BillLine{OrderID: r.OrderID, ProviderTxnID: r.TransactionID, Refund: r.Refund(), AmountFen: r.SettleFen, FeeFen: r.FeeFen, At: r.At}
		if l.Refund {
			l.RefundID, l.AmountFen = r.OutRefundNo, r.RefundFen
		}
		out = append(out, l)
	}
	return out
}

// AlipayLines are the lines of a parsed Alipay 业务明细.
func AlipayLines(rows []alipay.BillRow) []BillLine {
	out := make([]BillLine, 0, len(rows))
	for _, r := range rows {
		l := BillLine{OrderID: r.OrderID, ProviderTxnID: r.TradeNo, Refund: r.Refund, AmountFen: r.AmountFen, FeeFen: -r.FeeFen, At: r.FinishedAt}
		if l.Refund {
			l.RefundID, l.AmountFen = r.RefundRequestNo, -r.ReceivedFen
		}
		out = append(out, l)
	}
	return out
}

// Reconciler compares a day's bill with our orders and refunds (S2).
type Reconciler struct {
	Orders interface {
		OrderReader
		Get(ctx context.Context, id string) (order.Order, error)
		GetRefund(ctx context.Context, id string) (refund.Refund, error)
	}
	Exceptions interface {
		AddException(ctx context.Context, e dsettle.Exception) (bool, error)
	}
	Schedule dsettle.Schedule
	// Repair settles an order the bill shows paid and we do not: it asks the
	// provider for the trade and applies the verified answer through the
	// normal paid transition (payments.Service.ApplyTrade). nil: no repair.
	Repair   func(ctx context.Context, o order.Order) (order.Order, error)
	Clock    func() time.Time
	PageSize int32
}

// Report is what a reconciliation found.
type Report struct {
	Matched    int                 // payments on both sides, equal
	Exceptions []dsettle.Exception // every difference, stored once
	New        int                 // of which found for the first time
}

// Reconcile matches the bill's lines of req's day against our payments of
// that day (through the settle index, shard by shard, in constant memory on
// our side) and the refunds the bill lists, and stores every difference as
// an exception (found again, an exception is not stored twice).
func (r *Reconciler) Reconcile(ctx context.Context, req Request, lines []BillLine) (Report, error) {
	now := r.Clock()
	var rep Report
	found := func(e dsettle.Exception) {
		e.CompanyID, e.Merchant, e.Channel, e.Day = req.CompanyID, req.Merchant, req.Channel, req.Day
		e.Detail = e.Kind.Advice() + e.Detail
		rep.Exceptions = append(rep.Exceptions, dsettle.NewException(e, now))
	}
	payments := map[string]BillLine{}
	var refunds []BillLine
	for _, l := range lines {
		if l.Refund {
			refunds = append(refunds, l)
		} else {
			payments[l.OrderID] = l
		}
	}
	limit := r.PageSize
	if limit <= 0 {
		limit = 500
	}
	for shard := range store.SettleShards {
		after := ""
		for {
			os, more, err := r.Orders.SettledAfter(ctx, store.SettlePartition(req.Channel, req.Merchant, req.Day, shard), after, limit)
			if err != nil {
				return rep, err
			}
			for _, o := range os {
				after = sortKey(o)
				if !dsettle.Settlable(o) || o.BusinessDay != req.Day {
					continue
				}
				l, ok := payments[o.ID]
				delete(payments, o.ID)
				switch {
				case !ok:
					found(dsettle.Exception{Kind: dsettle.MissingProvider, OrderID: o.ID, ProviderTxnID: o.ProviderTxnID, OurFen: o.AmountFen})
				case l.AmountFen != o.AmountFen:
					found(dsettle.Exception{Kind: dsettle.AmountDiffers, OrderID: o.ID, ProviderTxnID: l.ProviderTxnID, OurFen: o.AmountFen, TheirFen: l.AmountFen})
				default:
					if fee, ok := r.flatFee(req, o); ok && fee != l.FeeFen {
						found(dsettle.Exception{Kind: dsettle.FeeDiffers, OrderID: o.ID, ProviderTxnID: l.ProviderTxnID, OurFen: fee, TheirFen: l.FeeFen})
					} else {
						rep.Matched++
					}
				}
			}
			if !more || len(os) == 0 {
				break
			}
		}
	}
	// What the bill has and our day does not.
	ids := make([]string, 0, len(payments))
	for id := range payments {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		l := payments[id]
		e := dsettle.Exception{Kind: dsettle.MissingLocal, OrderID: id, ProviderTxnID: l.ProviderTxnID, TheirFen: l.AmountFen}
		o, err := r.Orders.Get(ctx, id)
		switch {
		case errors.Is(err, order.ErrNotFound):
			e.Detail = "（本系统无此订单号，未补记）"
		case err != nil:
			return rep, err
		case o.MerchantID != req.Merchant || o.Channel != req.Channel:
			e.Detail = "（订单属于其他商户或渠道，未补记）"
		case o.Status.Unpaid() && r.Repair != nil:
			repaired, err := r.Repair(ctx, o)
			if err == nil && dsettle.Settlable(repaired) {
				e.Repaired, e.OurFen = true, repaired.AmountFen
				e.Detail = "（已补记为已支付）"
			} else {
				e.Detail = fmt.Sprintf("（补记失败：%v）", err)
			}
		case dsettle.Settlable(o):
			e.Kind, e.OurFen = dsettle.StatusDiffers, o.AmountFen
			e.Detail = fmt.Sprintf("（本系统记在营业日 %s）", o.BusinessDay)
		default:
			e.Detail = fmt.Sprintf("（本系统订单状态 %s，未补记）", o.Status)
		}
		found(e)
	}
	for _, l := range refunds {
		rf, err := r.Orders.GetRefund(ctx, l.RefundID)
		switch {
		case errors.Is(err, refund.ErrNotFound):
			found(dsettle.Exception{Kind: dsettle.MissingLocal, OrderID: l.RefundID, ProviderTxnID: l.ProviderTxnID, TheirFen: l.AmountFen, Detail: "（账单中的退款本系统无记录）"})
		case err != nil:
			return rep, err
		case rf.Status != refund.Succeeded:
			found(dsettle.Exception{Kind: dsettle.StatusDiffers, OrderID: l.RefundID, ProviderTxnID: l.ProviderTxnID, OurFen: rf.AmountFen, TheirFen: l.AmountFen,
				Detail: fmt.Sprintf("（渠道退款成功，本系统退款状态 %s）", rf.Status)})
		case rf.AmountFen != l.AmountFen:
			found(dsettle.Exception{Kind: dsettle.AmountDiffers, OrderID: l.RefundID, ProviderTxnID: l.ProviderTxnID, OurFen: rf.AmountFen, TheirFen: l.AmountFen})
		default:
			rep.Matched++
		}
	}
	for _, e := range rep.Exceptions {
		added, err := r.Exceptions.AddException(ctx, e)
		if err != nil {
			return rep, err
		}
		if added {
			rep.New++
		}
	}
	return rep, nil
}

// flatFee is our fee of a payment when its plan is flat (a tiered plan's
// fee depends on the month's order and is checked on the statement).
func (r *Reconciler) flatFee(req Request, o order.Order) (int64, bool) {
	p, err := r.Schedule.PlanFor(req.Merchant, req.Channel, o.Method)
	if err != nil || p.Tiered() {
		return 0, false
	}
	return p.Fee(0, o.AmountFen), true
}
