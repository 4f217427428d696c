package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// SecretSource loads the admin token.
type SecretSource interface {
	Load(ctx context.Context, ref string) ([]byte, error)
}

// Handler serves /admin/api/...
type Handler struct {
	Store    *store.Store
	Secrets  SecretSource
	TokenRef string
	Log      *slog.Logger
}

// Handle authenticates, then routes.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	if resp, ok := h.authorize(ctx, req); !ok {
		return resp, nil
	}
	switch req.RouteKey {
	case "GET /admin/api/communities/{id}/payments":
		return h.payments(ctx, req), nil
	}
	return web.Error(http.StatusNotFound, "not_found", "no such route"), nil
}

func (h *Handler) authorize(ctx context.Context, req web.Request) (web.Response, bool) {
	want, err := h.Secrets.Load(ctx, h.TokenRef)
	want = bytes.TrimSpace(want)
	if err != nil || len(want) < 16 {
		h.Log.ErrorContext(ctx, "admin token unavailable", "err", err)
		return web.Error(http.StatusServiceUnavailable, "unavailable", "admin authentication is not configured"), false
	}
	scheme, got, ok := strings.Cut(web.Header(req, "Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
		h.Log.WarnContext(ctx, "admin auth failed", "security_event", true, "reason", "bad_admin_token", "source_ip", web.ClientIP(req))
		r := web.Error(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
		r.Headers["WWW-Authenticate"] = `Bearer realm="estatepay-admin"`
		return r, false
	}
	return web.Response{}, true
}

// PaymentRecord is one collection record (C7). Times are ISO 8601 in
// Asia/Shanghai with the offset (2026-11-29T10:00:05+08:00): the business
// calendar people read records in.
type PaymentRecord struct {
	OrderID       string            `json:"order_id"`
	AmountFen     int64             `json:"amount_fen"`
	Amount        string            `json:"amount"`
	Channel       domain.Channel    `json:"channel"`
	Status        order.Status      `json:"status"` // PAID, or REFUNDED when the money went back
	PaidAt        string            `json:"paid_at"`
	ProviderTxnID string            `json:"provider_txn_id"`
	PayerID       string            `json:"payer_id"`
	Fields        map[string]string `json:"fields,omitempty"` // payer fields (M5), e.g. {"room":"3-201"}
}

// PaymentsPage is the response of the records endpoint.
type PaymentsPage struct {
	CommunityID string          `json:"community_id"`
	Community   string          `json:"community"`
	Payments    []PaymentRecord `json:"payments"`
	NextCursor  string          `json:"next_cursor,omitempty"`
}

func (h *Handler) payments(ctx context.Context, req web.Request) web.Response {
	id := req.PathParameters["id"]
	com, err := h.Store.GetCommunity(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return web.Error(http.StatusNotFound, "not_found", "no such community")
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "get community", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "internal error")
	}
	limit := int32(20)
	if s := req.QueryStringParameters["limit"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return web.Error(http.StatusBadRequest, "bad_limit", "limit must be 1-100")
		}
		limit = int32(n)
	}
	page, err := h.Store.OrderRepo().Records(ctx, id, req.QueryStringParameters["cursor"], limit)
	if errors.Is(err, store.ErrBadCursor) {
		return web.Error(http.StatusBadRequest, "bad_cursor", "invalid cursor")
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "list records", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "internal error")
	}
	out := PaymentsPage{CommunityID: id, Community: com.Name, Payments: []PaymentRecord{}, NextCursor: page.Next}
	for _, o := range page.Orders {
		rec := PaymentRecord{
			OrderID: o.ID, AmountFen: o.AmountFen, Amount: domain.FormatYuan(o.AmountFen), Channel: o.Channel,
			Status: o.Status, ProviderTxnID: o.ProviderTxnID, PayerID: o.PayerID, Fields: o.Fields,
		}
		if !o.PaidAt.IsZero() {
			rec.PaidAt = calendar.Format(o.PaidAt)
		}
		out.Payments = append(out.Payments, rec)
	}
	return web.JSON(http.StatusOK, out)
}
