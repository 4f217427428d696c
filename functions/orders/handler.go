package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// Handler serves the order routes.
type Handler struct {
	Payments *payments.Service
	Log      *slog.Logger
}

// Handle routes by the API Gateway route key.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	switch req.RouteKey {
	case "POST /api/orders":
		return h.create(ctx, req), nil
	case "GET /api/orders/{id}":
		return h.status(ctx, req), nil
	}
	return web.Error(http.StatusNotFound, "not_found", "no such route"), nil
}

type createBody struct {
	Token     string `json:"token"`
	Channel   string `json:"channel"`
	AmountFen *int64 `json:"amount_fen"`
	PayerID   string `json:"payer_id"`
}

// OrderView is what the payer's page may see: no payer or merchant data.
type OrderView struct {
	OrderID   string            `json:"order_id"`
	Status    order.Status      `json:"status"`
	AmountFen int64             `json:"amount_fen"`
	Amount    string            `json:"amount"`
	Channel   domain.Channel    `json:"channel"`
	PaidAt    *time.Time        `json:"paid_at,omitempty"`
	ResultURL string            `json:"result_url,omitempty"`
	Pay       *pay.PrepayResult `json:"pay,omitempty"`
}

func view(o order.Order) OrderView {
	v := OrderView{OrderID: o.ID, Status: o.Status, AmountFen: o.AmountFen, Amount: domain.FormatYuan(o.AmountFen), Channel: o.Channel}
	if !o.PaidAt.IsZero() {
		paidAt := o.PaidAt
		v.PaidAt = &paidAt
	}
	return v
}

func (h *Handler) create(ctx context.Context, req web.Request) web.Response {
	if mt, _, err := mime.ParseMediaType(web.Header(req, "Content-Type")); err != nil || mt != "application/json" {
		return web.Error(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
	}
	raw, err := web.Body(req)
	if errors.Is(err, web.ErrBodyTooLarge) {
		return web.Error(http.StatusRequestEntityTooLarge, "too_large", "request body too large")
	}
	if err != nil {
		return web.Error(http.StatusBadRequest, "bad_request", err.Error())
	}
	var body createBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || dec.More() {
		return web.Error(http.StatusBadRequest, "bad_json", "body must be a JSON object with token, channel, amount_fen")
	}
	if body.AmountFen == nil || body.Token == "" {
		return web.Error(http.StatusBadRequest, "bad_request", "token and amount_fen are required")
	}
	key := web.Header(req, "Idempotency-Key")
	created, err := h.Payments.CreateOrder(ctx, payments.CreateRequest{
		Token:          body.Token,
		Channel:        domain.Channel(body.Channel),
		AmountFen:      *body.AmountFen,
		PayerID:        body.PayerID,
		IdempotencyKey: key,
		ClientIP:       web.ClientIP(req),
	})
	var inv *payments.InvalidError
	switch {
	case err == nil:
	case errors.As(err, &inv):
		return web.Error(http.StatusBadRequest, "invalid", inv.Msg)
	case errors.Is(err, payments.ErrUnknownCode):
		return web.Error(http.StatusNotFound, "unknown_code", "收款码不存在或已停用")
	case errors.Is(err, payments.ErrChannelUnavailable):
		return web.Error(http.StatusForbidden, "channel_unavailable", domain.MsgNotOpen)
	case errors.Is(err, payments.ErrIdempotencyConflict):
		return web.Error(http.StatusConflict, "idempotency_conflict", "订单信息已变更，请刷新页面后重试")
	case errors.Is(err, pay.ErrProvider):
		h.Log.ErrorContext(ctx, "prepay failed", "order_id", payments.OrderID(body.Token, key), "err", err)
		return web.Error(http.StatusBadGateway, "provider_error", "支付渠道暂不可用，请稍后重试")
	default:
		h.Log.ErrorContext(ctx, "create order failed", "order_id", payments.OrderID(body.Token, key), "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "下单失败，请稍后重试")
	}
	v := view(created.Order)
	v.ResultURL = "/c/" + created.Order.CodeToken + "/orders/" + created.Order.ID
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
		return web.Error(http.StatusNotFound, "not_found", "no such order")
	}
	o, err := h.Payments.Order(ctx, id)
	if errors.Is(err, payments.ErrUnknownOrder) {
		return web.Error(http.StatusNotFound, "not_found", "no such order")
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "get order failed", "order_id", id, "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "internal error")
	}
	return web.JSON(http.StatusOK, view(o))
}
