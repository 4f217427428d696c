package main

import (
	"context"
	"net/http"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// Handler answers WeChat Pay per its rules: 204 with no body on success, 4xx/5xx
// with {"code":"FAIL","message":...} otherwise (WeChat then retries).
type Handler struct {
	Payments *payments.Service
}

func fail(status int, msg string) web.Response {
	return web.JSON(status, map[string]string{"code": "FAIL", "message": msg})
}

// Handle processes one callback.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	r, err := web.HTTPRequest(ctx, req)
	if err != nil {
		return fail(http.StatusBadRequest, "bad request"), nil
	}
	handle := h.Payments.HandleNotification
	if req.RouteKey == "POST /notify/wechat/{iface}/refund" {
		handle = h.Payments.HandleRefundNotification // a refund's result (REFUND.*)
	}
	switch handle(ctx, req.PathParameters["iface"], domain.WeChat, r) {
	case payments.Accepted:
		return web.Response{StatusCode: http.StatusNoContent}, nil
	case payments.Rejected:
		return fail(http.StatusBadRequest, "rejected"), nil
	}
	return fail(http.StatusInternalServerError, "retry later"), nil
}
