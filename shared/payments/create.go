package payments

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// CreateRequest is a resident's request to pay an amount through a code.
type CreateRequest struct {
	Token          string
	Channel        domain.Channel
	AmountFen      int64
	PayerID        string // WeChat openid from OAuth; empty for Alipay wap
	IdempotencyKey string
	ClientIP       string
}

var (
	idemKey   = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	orderIDRE = regexp.MustCompile(`^EP[A-Z2-7]{26}$`)
)

// OrderID derives the order id (WeChat/Alipay out_trade_no, <= 32 chars) from the
// code and the client's idempotency key: the same key always names the same order.
func OrderID(token, key string) string {
	sum := sha256.Sum256([]byte(token + "\x00" + key))
	return "EP" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:26]
}

// IsOrderID reports whether id has the shape OrderID produces.
func IsOrderID(id string) bool { return orderIDRE.MatchString(id) }

func requestHash(r CreateRequest) string {
	sum := sha256.Sum256([]byte(r.Token + "\x00" + string(r.Channel) + "\x00" + strconv.FormatInt(r.AmountFen, 10) + "\x00" + r.PayerID))
	return hex.EncodeToString(sum[:16])
}

// Created is the outcome of CreateOrder.
type Created struct {
	Order  store.Order
	Prepay pay.PrepayResult // empty when the order is already final
	New    bool             // false when an earlier request with the same key created it
}

// CreateOrder validates the request (code, C2 channel rules, C4 amount), creates
// the order once per idempotency key, and prepays it at the provider. A retry
// with the same key and body returns the same order; a different body is
// store.ErrIdempotencyConflict.
func (s *Service) CreateOrder(ctx context.Context, r CreateRequest) (Created, error) {
	if !idemKey.MatchString(r.IdempotencyKey) {
		return Created{}, invalid("Idempotency-Key must be 16-64 characters of A-Z a-z 0-9 _ -")
	}
	if r.Channel != domain.WeChat && r.Channel != domain.Alipay {
		return Created{}, invalid("channel must be wechat or alipay")
	}
	if !domain.IsCodeToken(r.Token) {
		return Created{}, ErrUnknownCode
	}
	col, err := s.Store.LoadCollection(ctx, r.Token)
	if errors.Is(err, store.ErrNotFound) {
		return Created{}, ErrUnknownCode
	}
	if err != nil {
		return Created{}, err
	}
	if !col.Availability().Allows(r.Channel) {
		return Created{}, ErrChannelUnavailable
	}
	max := col.Community.MaxAmountFen
	if max == 0 {
		max = s.MaxAmountFen
	}
	if err := domain.CheckFreeAmount(r.AmountFen, max); err != nil {
		return Created{}, invalid(err.Error())
	}
	if r.Channel == domain.WeChat && r.PayerID == "" {
		return Created{}, invalid("WeChat payments need the payer's openid")
	}
	iface := col.Interface(r.Channel)
	now := s.now()
	o := store.Order{
		ID:          OrderID(r.Token, r.IdempotencyKey),
		CommunityID: col.Community.ID,
		CompanyID:   col.Company.ID,
		CodeToken:   r.Token,
		Channel:     r.Channel,
		IfaceID:     iface.ID,
		MerchantID:  iface.PaymentMerchant(),
		AppID:       iface.PaymentApp(),
		AmountFen:   r.AmountFen,
		Description: col.Community.Name + " 物业缴费",
		RequestHash: requestHash(r),
		PayerID:     r.PayerID,
		CreatedAt:   now,
		ExpireAt:    now.Add(s.orderTTL()),
	}
	o, isNew, err := s.Store.CreateOrder(ctx, o)
	if err != nil {
		return Created{}, err
	}
	out := Created{Order: o, New: isNew}
	if o.Status.Final() {
		return out, nil
	}
	if o.Prepay != "" {
		if err := json.Unmarshal([]byte(o.Prepay), &out.Prepay); err == nil {
			return out, nil
		}
	}
	p, err := s.Providers.Provider(ctx, *iface)
	if err != nil {
		return Created{}, fmt.Errorf("provider for %s: %w", iface.ID, err)
	}
	res, err := p.Prepay(ctx, pay.PrepayRequest{
		OrderID:     o.ID,
		AmountFen:   o.AmountFen,
		Description: o.Description,
		ExpireAt:    o.ExpireAt,
		NotifyURL:   s.PublicBaseURL + "/notify/" + string(o.Channel) + "/" + iface.ID,
		ReturnURL:   s.PublicBaseURL + "/c/" + r.Token + "/orders/" + o.ID,
		QuitURL:     s.PublicBaseURL + "/c/" + r.Token,
		PayerID:     o.PayerID,
		ClientIP:    r.ClientIP,
	})
	if err != nil {
		return Created{}, fmt.Errorf("prepay %s: %w", o.ID, err)
	}
	b, _ := json.Marshal(res)
	if err := s.Store.SetPrepay(ctx, o.ID, string(b)); err != nil && !errors.Is(err, store.ErrNotPayable) {
		return Created{}, err
	}
	o.Status = domain.OrderPending
	out.Order, out.Prepay = o, res
	return out, nil
}
