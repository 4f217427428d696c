package main

import (
	"context"
	"net/http"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/web"
)

// Handler answers Alipay per its rules: the body "success" stops retries; any
// other answer ("fail") makes Alipay deliver again on its schedule.
type Handler struct {
	Payments *payments.Service
}

// Handle processes one notification.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	r, err := web.HTTPRequest(ctx, req)
	if err != nil {
		return web.Text(http.StatusBadRequest, "fail"), nil
	}
	switch h.Payments.HandleNotification(ctx, req.PathParameters["iface"], domain.Alipay, r) {
	case payments.Accepted:
		return web.Text(http.StatusOK, "success"), nil
	case payments.Rejected:
		return web.Text(http.StatusBadRequest, "fail"), nil
	}
	return web.Text(http.StatusInternalServerError, "fail"), nil
}
