package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// OrderService creates and reads orders (payments.Service).
type OrderService interface {
	CreateOrder(ctx context.Context, r payments.CreateRequest) (payments.Created, error)
	CreateNoticeOrder(ctx context.Context, r payments.NoticeOrderRequest) (payments.Created, error)
	Order(ctx context.Context, id string) (order.Order, error)
}

// Handler serves the order routes.
type Handler struct {
	Payments OrderService
	Payers   web.PayerCookies // verifies the WeChat payer identity the landing function issued
	Dyn      *dyncode.Signer  // screen codes' minute tokens (F7; nil: every token refused)
	Codes    Codes            // the 动态码 only flag (nil: not checked)
	Log      *slog.Logger
	Now      func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle routes by the API Gateway route key.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	switch req.RouteKey {
	case "POST /api/orders":
		return h.create(ctx, req), nil
	case "GET /api/orders/{id}":
		return h.status(ctx, req), nil
	}
	return web.Error(http.StatusNotFound, "not_found", web.MsgNoSuchRoute), nil
}

// maxCreateBody bounds POST /api/orders: the largest valid request (every
// payer field at its longest) is well under it.
const maxCreateBody = 8 << 10

// createBody is POST /api/orders. The payer's identity is not in it: WeChat
// payers are identified by the signed payer cookie only, and a payer_id in the
// body is refused (400 payer_id_not_accepted) so no client can choose whose
// openid is sent to WeChat.
type createBody struct {
	Token     string            `json:"token"`
	Notice    string            `json:"notice"` // a payment notice's id instead of a code (C6): pays what it has left
	Channel   string            `json:"channel"`
	AmountFen json.RawMessage   `json:"amount_fen"`
	PayerID   *string           `json:"payer_id"`
	Fields    map[string]string `json:"fields"`
	Dyn       string            `json:"dyn"`    // a screen code's minute token (F7; dyncode.go)
	Method    string            `json:"method"` // "" ordinary; "fenfu" when the payer chose 分付 (WeChat)
}

// OrderView is what the payer's page may see: no payer or merchant data.
type OrderView struct {
	OrderID   string         `json:"order_id"`
	Status    order.Status   `json:"status"`
	AmountFen int64          `json:"amount_fen"`
	Amount    string         `json:"amount"`
	Channel   domain.Channel `json:"channel"`
	PaidAt    string         `json:"paid_at,omitempty"` // ISO 8601, Asia/Shanghai (+08:00)
	ResultURL string         `json:"result_url,omitempty"`
	// A notice payment whose bills someone else paid first: the money goes
	// back automatically (RefundedFen counts what the provider confirmed).
	BillsRefused bool              `json:"bills_refused,omitempty"`
	RefundedFen  int64             `json:"refunded_fen,omitempty"`
	Pay          *pay.PrepayResult `json:"pay,omitempty"`
}

func view(o order.Order) OrderView {
	v := OrderView{OrderID: o.ID, Status: o.Status, AmountFen: o.AmountFen, Amount: domain.FormatYuan(o.AmountFen), Channel: o.Channel,
		BillsRefused: o.BillsRefused, RefundedFen: o.RefundedFen}
	if !o.PaidAt.IsZero() {
		v.PaidAt = calendar.Format(o.PaidAt)
	}
	return v
}

// isAmountFen: an integer of at most 15 digits, optionally negative (the
// range check comes after, with its own message).
func isAmountFen(b []byte) bool {
	s := string(b)
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	return domain.IsDigits(s, 1, 15)
}

// Error messages of order creation (people may read them on the page).
const (
	msgPayerRequired = "微信授权已过期，请刷新页面后重试"
	msgOrderExpired  = "订单已过期，请重新支付"
	msgUnknownNotice = "缴费通知单不存在或已作废"
)

// parseCreate checks the shape, length and charset of every part of the
// request; the rules that need the code's configuration (amount limits, payer
// fields offered) are CreateOrder's.
func parseCreate(req web.Request) (createBody, int64, *web.Response) {
	bad := func(status int, code, msg string) (createBody, int64, *web.Response) {
		r := web.Error(status, code, msg)
		return createBody{}, 0, &r
	}
	if mt, _, err := mime.ParseMediaType(web.Header(req, "Content-Type")); err != nil || mt != "application/json" {
		return bad(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type 必须是 application/json")
	}
	raw, err := web.Body(req)
	if errors.Is(err, web.ErrBodyTooLarge) || len(raw) > maxCreateBody {
		return bad(http.StatusRequestEntityTooLarge, "too_large", "请求内容过大")
	}
	if err != nil {
		return bad(http.StatusBadRequest, "bad_request", "请求内容无法解码")
	}
	var body createBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.More() {
		return bad(http.StatusBadRequest, "bad_json", "请求须为一个 JSON 对象：token（或 notice）、channel、amount_fen，可选 fields")
	}
	if body.Notice != "" {
		switch {
		case body.Token != "" || len(body.Fields) > 0:
			return bad(http.StatusBadRequest, "bad_json", "缴费通知单付款只需 notice、channel 和 amount_fen（页面显示的应缴金额）")
		case !domain.IsCodeToken(body.Notice):
			return bad(http.StatusNotFound, "unknown_notice", msgUnknownNotice)
		}
		body.Token = body.Notice // checked below like a token; never used as one
	}
	if !domain.IsURLSafe(web.Header(req, "Idempotency-Key"), 16, 64) {
		return bad(http.StatusBadRequest, "bad_idempotency_key", "Idempotency-Key 须为 16-64 位字母、数字、_ 或 -")
	}
	if body.Token == "" {
		return bad(http.StatusBadRequest, "missing_token", "缺少收款码 token")
	}
	if len(body.Token) > 64 {
		return bad(http.StatusNotFound, "unknown_code", "收款码不存在或已停用")
	}
	if body.Channel != string(domain.WeChat) && body.Channel != string(domain.Alipay) {
		return bad(http.StatusBadRequest, "bad_channel", "支付方式须为 wechat 或 alipay")
	}
	if len(body.AmountFen) == 0 || string(body.AmountFen) == "null" {
		return bad(http.StatusBadRequest, "missing_amount", "请输入金额")
	}
	if !isAmountFen(body.AmountFen) {
		return bad(http.StatusBadRequest, "bad_amount", domain.MsgAmountFormat+"（amount_fen 须为整数，单位：分）")
	}
	amount, err := strconv.ParseInt(string(body.AmountFen), 10, 64)
	if err != nil {
		return bad(http.StatusBadRequest, "bad_amount", domain.MsgAmountFormat)
	}
	if body.Method != "" && (body.Method != fenfu.Method || body.Channel != string(domain.WeChat) || body.Notice != "") {
		return bad(http.StatusBadRequest, "bad_method", "分付只能在微信中扫收款码付款时使用")
	}
	if body.PayerID != nil && *body.PayerID != "" {
		return bad(http.StatusBadRequest, "payer_id_not_accepted", "不接受 payer_id：付款人身份来自微信授权")
	}
	if len(body.Fields) > domain.MaxPayerFields {
		return bad(http.StatusBadRequest, "bad_fields", "填写的信息过多")
	}
	for k, v := range body.Fields {
		if !domain.IsFieldKey(k) {
			return bad(http.StatusBadRequest, "bad_fields", "不支持的填写项")
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > domain.MaxFieldValueRunes {
			return bad(http.StatusBadRequest, "bad_fields", "填写的内容过长或含有不支持的字符")
		}
	}
	return body, amount, nil
}

func (h *Handler) create(ctx context.Context, req web.Request) web.Response {
	body, amount, errResp := parseCreate(req)
	if errResp != nil {
		return *errResp
	}
	if r := h.dynamic(ctx, body); r != nil {
		return *r
	}
	key := web.Header(req, "Idempotency-Key")
	cr := payments.CreateRequest{
		Token:          body.Token,
		Channel:        domain.Channel(body.Channel),
		AmountFen:      amount,
		Fields:         body.Fields,
		IdempotencyKey: key,
		ClientIP:       web.ClientIP(req),
		Method:         body.Method,
	}
	if cr.Channel == domain.WeChat {
		p, err := h.Payers.Read(req, h.now())
		if err != nil {
			h.Log.InfoContext(ctx, "wechat order without a valid payer cookie", "reason", err.Error())
			return web.Error(http.StatusUnauthorized, "payer_required", msgPayerRequired)
		}
		cr.PayerID, cr.PayerIface, cr.PayerApp = p.OpenID, p.Iface, p.AppID
	} else if p, err := h.Payers.Read(req, h.now()); err == nil {
		// Alipay: an identity issued at 我的缴费记录 is recorded when present
		// (payments checks it names this code's Alipay app); never required.
		cr.PayerID, cr.PayerIface, cr.PayerApp = p.OpenID, p.Iface, p.AppID
	}
	var created payments.Created
	var err error
	orderID := payments.OrderID(body.Token, key)
	if body.Notice != "" {
		orderID = payments.NoticeOrderID(body.Notice, key)
		created, err = h.Payments.CreateNoticeOrder(ctx, payments.NoticeOrderRequest{NoticeID: body.Notice, Channel: cr.Channel,
			ExpectFen: amount, PayerID: cr.PayerID, PayerIface: cr.PayerIface, PayerApp: cr.PayerApp, IdempotencyKey: key, ClientIP: cr.ClientIP})
	} else {
		created, err = h.Payments.CreateOrder(ctx, cr)
	}
	var inv *payments.InvalidError
	var refused *payments.FenfuRefused
	switch {
	case err == nil:
	case errors.As(err, &refused):
		// the page offers ordinary payment instead (alternative)
		return web.JSON(http.StatusConflict, map[string]any{"error": map[string]string{"code": refused.Code, "message": refused.Message, "alternative": "ordinary"}})
	case errors.As(err, &inv):
		return web.Error(http.StatusBadRequest, "invalid", inv.Msg)
	case errors.Is(err, payments.ErrUnknownCode):
		return web.Error(http.StatusNotFound, "unknown_code", "收款码不存在或已停用")
	case errors.Is(err, payments.ErrCodeExpired):
		return web.Error(http.StatusGone, "code_expired", "此收款码已失效，请向收款人索取新的收款码")
	case errors.Is(err, payments.ErrUnknownNotice):
		return web.Error(http.StatusNotFound, "unknown_notice", msgUnknownNotice)
	case errors.Is(err, payments.ErrNoticeSettled):
		return web.Error(http.StatusConflict, "notice_settled", "已缴清：通知单上的费用都已缴纳，无需再付")
	case errors.Is(err, payments.ErrNoticePaying):
		return web.Error(http.StatusConflict, "notice_paying", "正在支付：这些费用正由他人支付，请稍后刷新查看")
	case errors.Is(err, payments.ErrNoticeChanged):
		return web.Error(http.StatusConflict, "notice_changed", "应缴金额已变化，请刷新页面后按新的金额支付")
	case errors.Is(err, payments.ErrChannelUnavailable):
		return web.Error(http.StatusForbidden, "channel_unavailable", domain.MsgNotOpen)
	case errors.Is(err, payments.ErrPayerMismatch):
		h.Log.WarnContext(ctx, "payer cookie issued for another WeChat app", "security_event", true, "reason", "payer_mismatch")
		return web.Error(http.StatusUnauthorized, "payer_required", msgPayerRequired)
	case errors.Is(err, payments.ErrOrderExpired):
		return web.Error(http.StatusConflict, "order_expired", msgOrderExpired)
	case errors.Is(err, payments.ErrIdempotencyConflict):
		return web.Error(http.StatusConflict, "idempotency_conflict", "订单信息已变更，请刷新页面后重试")
	case errors.Is(err, pay.ErrProvider):
		h.Log.ErrorContext(ctx, "prepay failed", "order_id", orderID, "err", err)
		return web.Error(http.StatusBadGateway, "provider_error", "支付渠道暂不可用，请稍后重试")
	default:
		h.Log.ErrorContext(ctx, "create order failed", "order_id", orderID, "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "下单失败，请稍后重试")
	}
	v := view(created.Order)
	v.ResultURL = "/c/" + created.Order.CodeToken + "/orders/" + created.Order.ID
	if created.Order.NoticeID != "" {
		v.ResultURL = "/n/" + created.Order.NoticeID + "/orders/" + created.Order.ID
	}
	if !created.Order.Status.Final() {
		p := created.Prepay
		v.Pay = &p
	}
	status := http.StatusOK
	if created.New {
		status = http.StatusCreated
		h.Log.InfoContext(ctx, "order created", "order_id", created.Order.ID, "channel", created.Order.Channel, "amount_fen", created.Order.AmountFen)
	}
	return web.JSON(status, v)
}

func (h *Handler) status(ctx context.Context, req web.Request) web.Response {
	id := req.PathParameters["id"]
	if !payments.IsOrderID(id) {
		return web.Error(http.StatusNotFound, "not_found", "订单不存在")
	}
	o, err := h.Payments.Order(ctx, id)
	if errors.Is(err, payments.ErrUnknownOrder) {
		return web.Error(http.StatusNotFound, "not_found", "订单不存在")
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "get order failed", "order_id", id, "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "系统繁忙，请稍后重试")
	}
	return web.JSON(http.StatusOK, view(o))
}
