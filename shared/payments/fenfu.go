package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/order"
	dsettle "github.com/estatepay/estatepay/shared/domain/settlement"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// Exposer is a provider that answers 支付方式前置 (WeChat Pay's exposure call).
type Exposer interface {
	Exposure(ctx context.Context, payerID string, amountFen int64) (fenfu.Exposure, error)
}

// PayerHistory lists a payer's paid payments in one community, newest first
// (store.Orders.PayerOrders).
type PayerHistory interface {
	PayerOrders(ctx context.Context, companyID, communityID, payerKey, after string, limit int32) (order.Page, error)
}

// FenfuRefused is a 分付 payment the rules refused; Message is for the payer
// (it offers ordinary payment).
type FenfuRefused struct {
	Code    string // fenfu_unavailable, fenfu_night, fenfu_daily_limit
	Message string
}

func (e *FenfuRefused) Error() string { return "payments: 分付 refused: " + e.Code }

// Fenfu applies the 分付 rules around a payment (F4, F5): before the trade
// opens (Admit: display, night window, daily limit) and once it is paid
// (Paid: three in a row, the suspicious hold, the order's copy); every
// decision is recorded. Its clock is the risk clock (Now), apart from the
// service's so a demo can move it.
type Fenfu struct {
	Store   *store.Fenfu
	History PayerHistory
	// Orders reads a previous payment in full: the payer index does not
	// project the method (nil: the index's answer is taken as it is).
	Orders interface {
		Get(ctx context.Context, id string) (order.Order, error)
	}
	Settlements *store.Settlements // the S3 hold (nil: no holds)
	Limits      fenfu.Limits
	Now         func() time.Time
}

func (f *Fenfu) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func riskPayment(o order.Order) fenfu.Payment {
	return fenfu.Payment{CompanyID: o.CompanyID, MerchantID: o.MerchantID, OrderID: o.ID, PayerOpenID: o.PayerID, AmountFen: o.AmountFen}
}

// FirstOfDay reports whether o's payer has paid nothing yet today in its community.
func (f *Fenfu) FirstOfDay(ctx context.Context, companyID, communityID, payerKey string, now time.Time) (bool, error) {
	if f.History == nil || payerKey == "" {
		return false, nil
	}
	page, err := f.History.PayerOrders(ctx, companyID, communityID, payerKey, "", 1)
	if err != nil {
		return false, err
	}
	return len(page.Orders) == 0 || page.Orders[0].PaidAt.IsZero() || calendar.BusinessDay(page.Orders[0].PaidAt) != calendar.BusinessDay(now), nil
}

// Admit decides whether new order o (Method 分付, WeChat JSAPI, at an
// interface that offers 分付) may be paid by 分付; it returns the exposure
// token for the JSAPI package, or a *FenfuRefused. A passed payment holds
// its place in the payer's daily total (Release gives it back).
func (f *Fenfu) Admit(ctx context.Context, o order.Order, offers bool, p pay.Provider) (string, error) {
	now := f.now()
	ex, ok := p.(Exposer)
	if !offers || !ok {
		return "", &FenfuRefused{"fenfu_unavailable", "该收款码暂不支持分付。" + fenfu.MsgOrdinary}
	}
	first, err := f.FirstOfDay(ctx, o.CompanyID, o.CommunityID, o.PayerKey, now)
	if err != nil {
		return "", fmt.Errorf("fenfu: first of day: %w", err)
	}
	in := fenfu.DisplayInput{MerchantOffers: offers, JSAPI: true, AmountFen: o.AmountFen, FirstOfDay: first}
	if o.AmountFen < fenfu.MinOfferFen && !first {
		return "", &FenfuRefused{"fenfu_unavailable", "10 元以下的付款暂不支持分付。" + fenfu.MsgOrdinary}
	}
	exp, err := ex.Exposure(ctx, o.PayerID, o.AmountFen)
	if err != nil {
		return "", fmt.Errorf("fenfu: exposure: %w", err)
	}
	in.Exposure = &exp
	if fenfu.Display(in) == fenfu.Hidden {
		return "", &FenfuRefused{"fenfu_unavailable", "微信支付暂不向您提供分付。" + fenfu.MsgOrdinary}
	}
	rp := riskPayment(o)
	night := fenfu.CheckNight(rp, now, f.Limits)
	if err := f.Store.PutRecord(ctx, night); err != nil {
		return "", err
	}
	if night.Decision == fenfu.Refuse {
		return "", &FenfuRefused{"fenfu_night", night.Detail}
	}
	day := calendar.BusinessDay(now)
	spent, err := f.Store.Reserve(ctx, o.PayerID, o.ID, day, o.AmountFen, f.Limits.DailyFen)
	if errors.Is(err, store.ErrFenfuDailyLimit) {
		cur, _ := f.Store.Spent(ctx, o.PayerID, day)
		rec := fenfu.CheckDaily(rp, cur, now, f.Limits)
		if rec.Decision != fenfu.Refuse { // counted meanwhile by a payment that has since released
			rec = fenfu.CheckDaily(rp, f.Limits.DailyFen, now, f.Limits)
		}
		if err := f.Store.PutRecord(ctx, rec); err != nil {
			return "", err
		}
		return "", &FenfuRefused{"fenfu_daily_limit", rec.Detail}
	}
	if err != nil {
		return "", err
	}
	if err := f.Store.PutRecord(ctx, fenfu.CheckDaily(rp, spent, now, f.Limits)); err != nil {
		return "", err
	}
	return exp.Token, nil
}

// Release gives an unpaid 分付 order's place in the daily total back (its
// trade failed to open, or it closed).
func (f *Fenfu) Release(ctx context.Context, o order.Order) error {
	return f.Store.Release(ctx, o.PayerID, o.ID, calendar.BusinessDay(o.CreatedAt))
}

// Paid applies the rules of a paid 分付 payment (idempotent: a repeated
// report changes nothing): three in a row warns, a suspicious payment is
// held out of settlement, and the order's copy is kept apart.
func (f *Fenfu) Paid(ctx context.Context, o order.Order) error {
	if err := f.Store.PutOrder(ctx, o); err != nil {
		return err
	}
	at := o.PaidAt
	var previous []string
	if f.History != nil && o.PayerKey != "" {
		page, err := f.History.PayerOrders(ctx, o.CompanyID, o.CommunityID, o.PayerKey, "", int32(f.Limits.InARow+1))
		if err != nil {
			return fmt.Errorf("fenfu: payer history: %w", err)
		}
		for _, p := range page.Orders {
			if p.ID == o.ID || p.PaidAt.After(o.PaidAt) || len(previous) >= f.Limits.InARow-1 {
				continue
			}
			if f.Orders != nil {
				full, err := f.Orders.Get(ctx, p.ID)
				if err != nil {
					return fmt.Errorf("fenfu: previous payment %s: %w", p.ID, err)
				}
				p = full
			}
			previous = append(previous, p.Method)
		}
	}
	rp := riskPayment(o)
	row := fenfu.CheckInARow(rp, previous, at, f.Limits)
	if err := f.Store.PutRecord(ctx, row); err != nil {
		return err
	}
	sus := fenfu.CheckSuspicious(rp, row.Decision == fenfu.Warn, at, f.Limits)
	if err := f.Store.PutRecord(ctx, sus); err != nil {
		return err
	}
	if sus.Decision != fenfu.Hold || f.Settlements == nil {
		return nil
	}
	h, err := dsettle.NewHold(o, sus.Detail, "risk:"+fenfu.RuleSuspicious, at)
	if err != nil {
		return err
	}
	err = f.Settlements.PlaceHold(ctx, h, calendar.BusinessDay(f.now()))
	if errors.Is(err, store.ErrHoldExists) || errors.Is(err, store.ErrDaySettled) {
		return nil // held before; or its day is settled already (paid out: nothing to hold)
	}
	return err
}

// ReleaseDue releases the merchant's risk holds (by the suspicious rule)
// whose hold time (48 h) has passed, into the statement of the day they are
// released (S3); it returns how many it released.
func (f *Fenfu) ReleaseDue(ctx context.Context, ch domain.Channel, merchant string) (int, error) {
	if f.Settlements == nil {
		return 0, nil
	}
	holds, err := f.Settlements.Holds(ctx, ch, merchant)
	if err != nil {
		return 0, err
	}
	now := f.now()
	n := 0
	for _, h := range holds {
		if h.By != "risk:"+fenfu.RuleSuspicious || h.ReleasedDay != "" || now.Before(f.Limits.ReleaseAt(h.HeldAt)) {
			continue
		}
		if err := h.Release(calendar.BusinessDay(now), "risk:released_after_hold"); err != nil {
			continue
		}
		if err := f.Settlements.PutHold(ctx, h); errors.Is(err, store.ErrSettleConflict) {
			continue // released by someone meanwhile
		} else if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
