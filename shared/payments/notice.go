package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Billing is the port of notice payments and refunds: the notices and bills
// an order pays, the refunds it gives back, and the unit of work that writes
// an order together with its bills and refunds as one transaction.
// shared/store.Ledger implements it.
type Billing interface {
	GetNotice(ctx context.Context, id string) (notice.Notice, error)
	ReadBills(ctx context.Context, ids []string) ([]bill.Bill, error)
	ReserveAll(ctx context.Context, orderID string, ids []string, until, now time.Time) ([]bill.Bill, error)
	ReleaseAll(ctx context.Context, orderID string, ids []string, at time.Time) ([]bill.Bill, error)
	GetRefund(ctx context.Context, id string) (refund.Refund, error)
	Refunds(ctx context.Context, ids []string) ([]refund.Refund, error)
	// LinkedEntry names the cashier entry linking a code payment ("" none).
	LinkedEntry(ctx context.Context, orderID string) (string, error)
	Commit(ctx context.Context, u store.Unit) error
}

// Errors of notice payments (C6).
var (
	ErrUnknownNotice = errors.New("unknown notice")
	// ErrNoticeSettled: nothing on the notice is left to pay (已缴清).
	ErrNoticeSettled = errors.New("notice settled")
	// ErrNoticePaying: what is left is held by a payment in progress (正在支付).
	ErrNoticePaying = errors.New("notice being paid")
	// ErrNoticeChanged: the amount the payer saw is no longer what is due
	// (something was paid meanwhile): show the notice again.
	ErrNoticeChanged = errors.New("notice amount changed")
)

// NoticeView is a notice as a payer sees it now.
type NoticeView struct {
	Notice     notice.Notice
	Collection store.Collection // the community, company and interfaces it pays through
	Summary    notice.Summary
}

// Notice is the query behind a notice's pay page.
func (s *Service) Notice(ctx context.Context, id string) (NoticeView, error) {
	if !domain.IsCodeToken(id) || s.Billing == nil {
		return NoticeView{}, ErrUnknownNotice
	}
	n, err := s.Billing.GetNotice(ctx, id)
	if errors.Is(err, notice.ErrNotFound) {
		return NoticeView{}, ErrUnknownNotice
	}
	if err != nil {
		return NoticeView{}, err
	}
	col, err := s.Directory.LoadCommunity(ctx, n.CommunityID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && col.Company.ID != n.CompanyID) {
		return NoticeView{}, ErrUnknownNotice
	}
	if err != nil {
		return NoticeView{}, err
	}
	bills, err := s.Billing.ReadBills(ctx, n.BillIDs)
	if err != nil {
		return NoticeView{}, fmt.Errorf("bills of notice %s: %w", n.ID, err)
	}
	return NoticeView{Notice: n, Collection: col, Summary: notice.Summarize(n, bills, s.now())}, nil
}

// NoticeOrderRequest is a payer's request to pay a notice.
type NoticeOrderRequest struct {
	NoticeID       string
	Channel        domain.Channel
	ExpectFen      int64 // what the page showed; another amount due is ErrNoticeChanged
	PayerID        string
	PayerIface     string
	PayerApp       string
	IdempotencyKey string
	ClientIP       string
}

// NoticeOrderID derives a notice payment's order id from the notice and the
// client's idempotency key.
func NoticeOrderID(noticeID, key string) string { return OrderID("notice:"+noticeID, key) }

func noticeRequestHash(r NoticeOrderRequest, billIDs []string) string {
	h := sha256.Sum256([]byte(r.NoticeID + "\x00" + string(r.Channel) + "\x00" + hashedPayer(r.Channel, r.PayerID) + "\x00" + strings.Join(billIDs, ",")))
	return hex.EncodeToString(h[:16])
}

// reservationGrace is how long a notice payment's bills stay reserved past
// its order's time_expire (the provider's clock may run a little behind).
const reservationGrace = time.Minute

// CreateNoticeOrder pays exactly what a notice has left (C6). The bills are
// reserved for the order first, in one conditional transaction (unpaid →
// reserved by this order, until the order expires): a second payer finds
// them held (ErrNoticePaying) or paid (ErrNoticeSettled) and is never sent
// to the provider. Then the trade is opened and the order stored, as for a
// code payment; if the provider refuses, the bills are released.
func (s *Service) CreateNoticeOrder(ctx context.Context, r NoticeOrderRequest) (Created, error) {
	if !domain.IsURLSafe(r.IdempotencyKey, 16, 64) {
		return Created{}, invalid("请求标识（Idempotency-Key）应为 16-64 位字母、数字、_ 或 -")
	}
	if r.Channel != domain.WeChat && r.Channel != domain.Alipay {
		return Created{}, invalid("支付方式只能是 wechat（微信）或 alipay（支付宝）")
	}
	id := NoticeOrderID(r.NoticeID, r.IdempotencyKey)
	view, err := s.Notice(ctx, r.NoticeID)
	if err != nil {
		return Created{}, err
	}
	col := view.Collection
	if !col.Availability().Allows(r.Channel) {
		return Created{}, ErrChannelUnavailable
	}
	if r.Channel == domain.WeChat && r.PayerID != "" && (col.WeChat == nil || r.PayerIface != col.WeChat.ID || r.PayerApp != col.WeChat.OAuthAppID()) {
		return Created{}, ErrPayerMismatch
	}
	if r.Channel == domain.WeChat && r.PayerID == "" {
		return Created{}, invalid("请在微信中打开缴费通知单并完成授权后再支付")
	}
	r.PayerID = optionalAlipayPayer(col, r.Channel, r.PayerID, r.PayerIface, r.PayerApp)
	// A retry of a request we already took answers from the stored order.
	if existing, err := s.Orders.Get(ctx, id); err == nil {
		return s.existing(existing, order.Order{RequestHash: noticeRequestHash(r, existing.BillIDs)})
	}
	sum := view.Summary
	switch {
	case sum.Settled:
		return Created{}, ErrNoticeSettled
	case len(sum.OpenIDs) == 0:
		return Created{}, ErrNoticePaying
	case r.ExpectFen != sum.OpenFen:
		return Created{}, ErrNoticeChanged
	}
	iface := col.Interface(r.Channel)
	now := s.now()
	n := view.Notice
	o, err := order.New(order.Order{
		ID: id, CommunityID: n.CommunityID, CompanyID: n.CompanyID, Channel: r.Channel,
		IfaceID: iface.ID, MerchantID: iface.PaymentMerchant(), AppID: iface.PaymentApp(),
		AmountFen:   sum.OpenFen,
		Description: col.Community.Name + " " + n.Label() + " 物业缴费",
		RequestHash: noticeRequestHash(r, sum.OpenIDs),
		PayerID:     r.PayerID,
		PayerKey:    order.PayerKeyOf(r.Channel, iface.OAuthAppID(), r.PayerID),
		HouseLabel:  n.Label(),
		NoticeID:    n.ID, HouseID: n.HouseID, BillIDs: sum.OpenIDs,
		CollectorID: n.CollectorID,
	}, now, s.orderTTL(), s.sweepAfter())
	if err != nil {
		return Created{}, fmt.Errorf("new order: %w", err)
	}
	if _, err := s.Billing.ReserveAll(ctx, o.ID, o.BillIDs, o.ExpireAt.Add(reservationGrace), now); err != nil {
		var refused *bill.RefusedError
		switch {
		case errors.As(err, &refused) && errors.Is(err, bill.ErrReserved):
			return Created{}, ErrNoticePaying
		case errors.As(err, &refused):
			return Created{}, ErrNoticeChanged // paid or waived since we read it
		}
		return Created{}, fmt.Errorf("reserve bills of notice %s: %w", n.ID, err)
	}
	p, err := s.Providers.Provider(ctx, *iface)
	if err == nil {
		var res pay.PrepayResult
		res, err = p.Prepay(ctx, pay.PrepayRequest{
			OrderID: o.ID, AmountFen: o.AmountFen, Description: o.Description, ExpireAt: o.ExpireAt,
			NotifyURL: s.PublicBaseURL + "/notify/" + string(o.Channel) + "/" + iface.ID,
			ReturnURL: s.PublicBaseURL + "/n/" + n.ID + "/orders/" + o.ID,
			QuitURL:   s.PublicBaseURL + "/n/" + n.ID,
			PayerID:   o.PayerID, ClientIP: r.ClientIP,
		})
		if err == nil {
			b, _ := json.Marshal(res)
			if err = o.SetPrepay(string(b), now); err == nil {
				stored, cerr := s.Orders.Create(ctx, o)
				if errors.Is(cerr, order.ErrExists) {
					return s.existing(stored, o)
				}
				if cerr == nil {
					return Created{Order: stored, Prepay: res, New: true}, nil
				}
				err = cerr
			}
		}
	}
	// No order was stored: give the bills back (their reservation would
	// lapse anyway when it expires).
	if _, rerr := s.Billing.ReleaseAll(ctx, o.ID, o.BillIDs, now); rerr != nil {
		s.Log.WarnContext(ctx, "release bills after a failed notice payment", "order_id", o.ID, "error", rerr.Error())
	}
	if existing, gerr := s.Orders.Get(ctx, o.ID); gerr == nil {
		return s.existing(existing, o)
	}
	return Created{}, fmt.Errorf("notice payment %s: %w", o.ID, err)
}
