package settlement

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
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
		RefundReader
		Get(ctx context.Context, id string) (order.Order, error)
		GetRefund(ctx context.Context, id string) (refund.Refund, error)
	}
	// Exceptions keeps the exceptions and knows the month's volume before a
	// day, from its earlier statements (store.Settlements): what tiered fees
	// count from, as the settler counts them.
	Exceptions interface {
		AddException(ctx context.Context, e dsettle.Exception) (bool, error)
		MonthToDate(ctx context.Context, k dsettle.Key) (int64, error)
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
	Matched    int                 // payments and refunds on both sides, equal
	Exceptions []dsettle.Exception // every difference, stored once
	New        int                 // of which found for the first time
}

// Reconcile matches the bill's lines of req's day against our payments of
// that day (through the settle index, the shards merged into payment-time
// order in constant memory on our side, each payment's fee counted exactly
// as the settler counts it — a tiered plan from the month's volume before
// the payment) and against the refunds that succeeded that day (their
// partitions of the same index), and stores every difference as an
// exception (found again, an exception is not stored twice).
func (r *Reconciler) Reconcile(ctx context.Context, req Request, lines []BillLine) (Report, error) {
	now := r.Clock()
	var rep Report
	record := func(e dsettle.Exception, advice string) {
		e.CompanyID, e.Merchant, e.Channel, e.Day = req.CompanyID, req.Merchant, req.Channel, req.Day
		e.Detail = advice + e.Detail
		rep.Exceptions = append(rep.Exceptions, dsettle.NewException(e, now))
	}
	found := func(e dsettle.Exception) { record(e, e.Kind.Advice()) }
	foundRefund := func(e dsettle.Exception) { record(e, e.Kind.RefundAdvice()) }
	payments := map[string]BillLine{}
	refunds := map[string]BillLine{}
	for _, l := range lines {
		if l.Refund {
			refunds[l.RefundID] = l
		} else {
			payments[l.OrderID] = l
		}
	}
	limit := r.PageSize
	if limit <= 0 {
		limit = 500
	}
	fees := feeReplay{r: r, req: req, meters: map[string]*dsettle.Statement{}}
	after := ""
	for {
		batch, finished, err := mergeStep(func(shard int) ([]order.Order, bool, error) {
			return r.Orders.SettledAfter(ctx, store.SettlePartition(req.Channel, req.Merchant, req.Day, shard), after, limit)
		}, sortKey)
		if err != nil {
			return rep, err
		}
		for _, o := range batch {
			if !dsettle.Settlable(o) || o.BusinessDay != req.Day {
				continue
			}
			fee, tier, checked, err := fees.next(ctx, o)
			if err != nil {
				return rep, err
			}
			l, ok := payments[o.ID]
			delete(payments, o.ID)
			switch {
			case !ok:
				found(dsettle.Exception{Kind: dsettle.MissingProvider, OrderID: o.ID, ProviderTxnID: o.ProviderTxnID, OurFen: o.AmountFen})
			case l.AmountFen != o.AmountFen:
				found(dsettle.Exception{Kind: dsettle.AmountDiffers, OrderID: o.ID, ProviderTxnID: l.ProviderTxnID, OurFen: o.AmountFen, TheirFen: l.AmountFen})
			case checked && fee != l.FeeFen:
				found(dsettle.Exception{Kind: dsettle.FeeDiffers, OrderID: o.ID, ProviderTxnID: l.ProviderTxnID, OurFen: fee, TheirFen: l.FeeFen, Detail: tier})
			default:
				rep.Matched++
			}
		}
		if len(batch) > 0 {
			after = sortKey(batch[len(batch)-1])
		}
		if finished {
			break
		}
	}
	// Our refunds that succeeded on the day, against the bill's refund rows
	// (the providers list a refund on the day it succeeded). Read before the
	// repairs below: a repaired notice payment whose bills were taken is
	// refunded now, after the bill was made, so it is the next bill's.
	for shard := range store.SettleShards {
		part := store.SettleRefundPartition(req.Channel, req.Merchant, req.Day, shard)
		after := ""
		for {
			rfs, more, err := r.Orders.RefundsSettledAfter(ctx, part, after, limit)
			if err != nil {
				return rep, err
			}
			for _, rf := range rfs {
				after = refundKey(rf)
				if day, ok := rf.SettleDay(); !ok || day != req.Day {
					continue
				}
				l, ok := refunds[rf.ID]
				delete(refunds, rf.ID)
				switch {
				case !ok:
					foundRefund(dsettle.Exception{Kind: dsettle.MissingProvider, OrderID: rf.ID, OurFen: rf.AmountFen,
						Detail: fmt.Sprintf("（本系统退款于 %s 成功）", calendar.FormatReadable(rf.SucceededAt))})
				case l.AmountFen != rf.AmountFen:
					foundRefund(dsettle.Exception{Kind: dsettle.AmountDiffers, OrderID: rf.ID, ProviderTxnID: l.ProviderTxnID, OurFen: rf.AmountFen, TheirFen: l.AmountFen})
				default:
					rep.Matched++
				}
			}
			if !more || len(rfs) == 0 {
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
	// The bill's refunds our day does not have.
	ids = ids[:0]
	for id := range refunds {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		l := refunds[id]
		e := dsettle.Exception{Kind: dsettle.StatusDiffers, OrderID: id, ProviderTxnID: l.ProviderTxnID, TheirFen: l.AmountFen}
		rf, err := r.Orders.GetRefund(ctx, id)
		day, succeeded := rf.SettleDay()
		switch {
		case errors.Is(err, refund.ErrNotFound):
			e.Kind, e.Detail = dsettle.MissingLocal, "（账单中的退款本系统无记录）"
		case err != nil:
			return rep, err
		case !succeeded:
			e.OurFen, e.Detail = rf.AmountFen, fmt.Sprintf("（渠道退款成功，本系统退款状态 %s）", rf.Status)
		case day != req.Day:
			e.OurFen, e.Detail = rf.AmountFen, fmt.Sprintf("（本系统记为营业日 %s 退款成功）", day)
		default:
			// Succeeded that day, yet not on the merchant's day: another
			// merchant's or channel's payment, or stored without its merchant.
			e.OurFen, e.Detail = rf.AmountFen, "（本系统该退款未计入此商户当日结算单）"
		}
		foundRefund(e)
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

// feeReplay counts the day's payments, in payment-time order, into one
// statement per method exactly as the settler does (dsettle.Statement.Add:
// the same plan, month-to-date volume, tier crossing and rounding), so each
// payment's fee is the one the statement charges.
type feeReplay struct {
	r      *Reconciler
	req    Request
	meters map[string]*dsettle.Statement
}

// next is o's fee and, for a tiered plan, what it was counted from (for
// people). checked is false when the schedule has no plan for o (the
// settler fails on it: nothing to compare).
func (f *feeReplay) next(ctx context.Context, o order.Order) (fee int64, tier string, checked bool, err error) {
	plan, perr := f.r.Schedule.PlanFor(f.req.Merchant, f.req.Channel, o.Method)
	if perr != nil {
		return 0, "", false, nil
	}
	st, ok := f.meters[o.Method]
	if !ok {
		st = &dsettle.Statement{Key: dsettle.Key{Merchant: f.req.Merchant, Channel: f.req.Channel, Method: o.Method, Day: f.req.Day}}
		if plan.Tiered() {
			if st.MonthToDateFen, err = f.r.Exceptions.MonthToDate(ctx, st.Key); err != nil {
				return 0, "", false, err
			}
		}
		f.meters[o.Method] = st
	}
	before := st.MonthToDateFen + st.GrossFen
	fee = st.Add(o, plan, false)
	if plan.Tiered() {
		tier = fmt.Sprintf("（阶梯费率：按本月此前交易额 %s 元计；本月此前各日须已结算）", domain.FormatYuan(domain.Fen(before)))
	}
	return fee, tier, true, nil
}
