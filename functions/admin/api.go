package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

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

// apiPayments is GET /admin/api/communities/{id}/payments?limit=&cursor=:
// a community of the caller's company, newest first.
func (h *Handler) apiPayments(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	q := c.req.QueryStringParameters
	limit := int32(20)
	if s := q["limit"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return web.Error(http.StatusBadRequest, "bad_limit", "limit 须为 1-100")
		}
		limit = int32(n)
	}
	page, err := h.Store.OrderRepo().Records(ctx, cm.ID, q["cursor"], limit)
	if errors.Is(err, store.ErrBadCursor) {
		return web.Error(http.StatusBadRequest, "bad_cursor", "cursor 无效")
	}
	if err != nil {
		return h.internal(ctx, c, "list records", err)
	}
	out := PaymentsPage{CommunityID: cm.ID, Community: cm.Name, Payments: []PaymentRecord{}, NextCursor: page.Next}
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
