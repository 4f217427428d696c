package payments

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/store"
)

// CreateRequest is a resident's request to pay an amount through a code.
type CreateRequest struct {
	Token          string
	Channel        domain.Channel
	AmountFen      int64
	PayerID        string // the payer identity from the signed payer cookie: WeChat openid (required); Alipay user/open id (optional)
	PayerIface     string // the interface and app the identity was issued for (from the same cookie)
	PayerApp       string
	Fields         map[string]string // payer fields (M5) as the payer typed them; validated here
	IdempotencyKey string
	ClientIP       string
	Method         string // "" ordinary; fenfu.Method when the payer chose 分付 (WeChat JSAPI only)
}

// OrderID derives the order id (WeChat/Alipay out_trade_no, <= 32 chars) from the
// code and the client's idempotency key: the same key always names the same order.
func OrderID(token, key string) string {
	sum := sha256.Sum256([]byte(token + "\x00" + key))
	return "EP" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:26]
}

// IsOrderID reports whether id has the shape OrderID produces.
func IsOrderID(id string) bool {
	if len(id) != 28 || id[:2] != "EP" {
		return false
	}
	for i := 2; i < len(id); i++ {
		if c := id[i]; (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

func requestHash(r CreateRequest) string {
	h := sha256.New()
	h.Write([]byte(r.Token + "\x00" + string(r.Channel) + "\x00" + strconv.FormatInt(r.AmountFen, 10) + "\x00" + hashedPayer(r.Channel, r.PayerID)))
	if r.Method != "" {
		h.Write([]byte("\x00method=" + r.Method))
	}
	keys := slices.Sorted(maps.Keys(r.Fields))
	for _, k := range keys {
		h.Write([]byte("\x00" + k + "=" + r.Fields[k]))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// hashedPayer is the payer part of a request hash: the WeChat openid (the
// order is bound to it), nothing for Alipay, whose identity is optional and
// may lapse between a request and its retry without changing the order.
func hashedPayer(ch domain.Channel, payerID string) string {
	if ch == domain.WeChat {
		return payerID
	}
	return ""
}

// optionalAlipayPayer is the Alipay payer identity an order records: the one
// the payer cookie carries when it was issued for this collection's Alipay
// interface and app (我的缴费记录 obtained it), else none — an Alipay payment
// never waits for, nor fails on, an identity (the verified report names the
// buyer anyway). WeChat identities pass unchanged (checked above).
func optionalAlipayPayer(col store.Collection, ch domain.Channel, id, iface, app string) string {
	if ch != domain.Alipay {
		return id
	}
	if id == "" || col.Alipay == nil || iface != col.Alipay.ID || app != col.Alipay.OAuthAppID() {
		return ""
	}
	return id
}

// Created is the outcome of CreateOrder.
type Created struct {
	Order  order.Order
	Prepay pay.PrepayResult // empty when the order is already final
	New    bool             // false when an earlier request with the same key created it
}

// CreateOrder validates the request (code, C2 channel rules, C4 amount), opens
// the trade at the provider and stores the order, PENDING with its prepay, in
// one conditional write: one provider call and one write on the critical
// path. The order id is derived from the idempotency key, so a retry names the
// same order: with the same body it gets the stored prepay back; with another
// body ErrIdempotencyConflict; after the order expired or closed,
// ErrOrderExpired (the client starts again with a new key).
func (s *Service) CreateOrder(ctx context.Context, r CreateRequest) (Created, error) {
	if !domain.IsURLSafe(r.IdempotencyKey, 16, 64) {
		return Created{}, invalid("请求标识（Idempotency-Key）应为 16-64 位字母、数字、_ 或 -")
	}
	if r.Channel != domain.WeChat && r.Channel != domain.Alipay {
		return Created{}, invalid("支付方式只能是 wechat（微信）或 alipay（支付宝）")
	}
	if !domain.IsCodeToken(r.Token) {
		return Created{}, ErrUnknownCode
	}
	col, err := s.Directory.LoadCollection(ctx, r.Token)
	if errors.Is(err, store.ErrNotFound) {
		return Created{}, ErrUnknownCode
	}
	if err != nil {
		return Created{}, err
	}
	now := s.now()
	if !col.Code.Usable(now) {
		return Created{}, ErrCodeExpired // a manager's token replaced by a refresh more than 3 h ago (M4)
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
	// The openid must have been issued for this code's WeChat app (bug 9);
	// payer fields are checked against the code's definitions and stored cleaned (M5).
	if r.Channel == domain.WeChat && r.PayerID != "" && (col.WeChat == nil || r.PayerIface != col.WeChat.ID || r.PayerApp != col.WeChat.OAuthAppID()) {
		return Created{}, ErrPayerMismatch
	}
	r.PayerID = optionalAlipayPayer(col, r.Channel, r.PayerID, r.PayerIface, r.PayerApp)
	// A code's preset values (a manager's extra code, M4) are the payment's,
	// whatever the payer sent for them.
	r.Fields = managercode.ApplyPreset(col.Code.Preset, r.Fields)
	fields, err := col.PayerFields().Validate(r.Fields)
	if err != nil {
		return Created{}, invalid(err.Error())
	}
	if r.Channel == domain.WeChat && r.PayerID == "" {
		return Created{}, invalid("请在微信中打开收款码并完成授权后再支付")
	}
	if r.Method != "" && (r.Method != fenfu.Method || r.Channel != domain.WeChat) {
		return Created{}, invalid("分付只能在微信中使用")
	}
	iface := col.Interface(r.Channel)
	description := col.Community.Name + " 物业缴费"
	if col.Code.OwnerID != "" {
		description = col.Company.Name + " 业务收款"
	}
	o, err := order.New(order.Order{
		ID:          OrderID(r.Token, r.IdempotencyKey),
		CommunityID: col.Community.ID,
		CompanyID:   col.Company.ID,
		CodeToken:   r.Token,
		Channel:     r.Channel,
		IfaceID:     iface.ID,
		MerchantID:  iface.PaymentMerchant(),
		AppID:       iface.PaymentApp(),
		AmountFen:   r.AmountFen,
		Description: description,
		CollectorID: col.Code.OwnerID,
		RequestHash: requestHash(r),
		PayerID:     r.PayerID,
		PayerKey:    order.PayerKeyOf(r.Channel, iface.OAuthAppID(), r.PayerID),
		Fields:      fields,
		Method:      r.Method,
	}, now, s.orderTTL(), s.sweepAfter())
	if err != nil {
		return Created{}, fmt.Errorf("new order: %w", err)
	}
	p, err := s.Providers.Provider(ctx, *iface)
	if err != nil {
		return Created{}, fmt.Errorf("provider for %s: %w", iface.ID, err)
	}
	var exposureToken string
	if o.Method == fenfu.Method {
		if s.Fenfu == nil {
			return Created{}, &FenfuRefused{"fenfu_unavailable", "该收款码暂不支持分付。" + fenfu.MsgOrdinary}
		}
		if existing, err := s.Orders.Get(ctx, o.ID); err == nil {
			return s.existing(existing, o) // a retry: admitted before
		}
		if exposureToken, err = s.Fenfu.Admit(ctx, o, iface.OffersFenfu(), p); err != nil {
			return Created{}, err
		}
	}
	res, perr := p.Prepay(ctx, pay.PrepayRequest{
		ExposureToken: exposureToken,
		OrderID:       o.ID,
		AmountFen:     o.AmountFen,
		Description:   o.Description,
		ExpireAt:      o.ExpireAt,
		NotifyURL:     s.PublicBaseURL + "/notify/" + string(o.Channel) + "/" + iface.ID,
		ReturnURL:     s.PublicBaseURL + "/c/" + r.Token + "/orders/" + o.ID,
		QuitURL:       s.PublicBaseURL + "/c/" + r.Token,
		PayerID:       o.PayerID,
		ClientIP:      r.ClientIP,
	})
	if perr != nil {
		// A retry of an order we already hold makes the provider refuse a
		// second trade for the same out_trade_no: answer from what we stored.
		if existing, err := s.Orders.Get(ctx, o.ID); err == nil {
			return s.existing(existing, o)
		}
		if o.Method == fenfu.Method {
			if err := s.Fenfu.Release(ctx, o); err != nil {
				s.Log.ErrorContext(ctx, "fenfu release after failed prepay", "order_id", o.ID, "err", err)
			}
		}
		return Created{}, fmt.Errorf("prepay %s: %w", o.ID, perr)
	}
	b, _ := json.Marshal(res)
	if err := o.SetPrepay(string(b), now); err != nil {
		return Created{}, err
	}
	stored, err := s.Orders.Create(ctx, o)
	if errors.Is(err, order.ErrExists) {
		return s.existing(stored, o)
	}
	if err != nil {
		return Created{}, err
	}
	return Created{Order: stored, Prepay: res, New: true}, nil
}

// existing answers a retried creation from the stored order.
func (s *Service) existing(stored, asked order.Order) (Created, error) {
	if stored.RequestHash != asked.RequestHash {
		return Created{}, ErrIdempotencyConflict
	}
	out := Created{Order: stored}
	switch {
	case stored.Status == order.Paid:
		return out, nil // the page shows it paid
	case stored.Status.Final() || stored.Expired(s.now()):
		return Created{}, ErrOrderExpired
	}
	if err := json.Unmarshal([]byte(stored.Prepay), &out.Prepay); err != nil || stored.Prepay == "" {
		return Created{}, fmt.Errorf("order %s has no usable prepay: %v", stored.ID, err)
	}
	return out, nil
}
