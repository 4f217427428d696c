package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Codes reads a code's directory entry for its 动态码 only flag
// (store.CachedDirectory).
type Codes interface {
	LoadCollection(ctx context.Context, token string) (store.Collection, error)
}

// dynamic refuses an order whose screen-code token (F7, the pay form's dyn)
// is expired (410 dynamic_expired) or not the code's (403 dynamic_invalid),
// and an order without one for a code set to 动态码 only (403
// dynamic_required). The form's token is accepted for dyncode.FormMinutes
// after its minute: the landing page already refused anything older than
// the grace minute.
func (h *Handler) dynamic(ctx context.Context, body createBody) *web.Response {
	refuse := func(status int, code, msg string) *web.Response {
		r := web.Error(status, code, msg)
		return &r
	}
	if body.Notice != "" {
		if body.Dyn != "" {
			return refuse(http.StatusBadRequest, "bad_json", "缴费通知单付款不带动态码")
		}
		return nil
	}
	if body.Dyn == "" {
		if h.Codes == nil {
			return nil
		}
		col, err := h.Codes.LoadCollection(ctx, body.Token)
		if err == nil && col.Code.DynamicOnly {
			return refuse(http.StatusForbidden, "dynamic_required", dyncode.MsgRequired)
		}
		return nil // unknown codes and read errors are CreateOrder's to answer
	}
	err := dyncode.ErrInvalid
	if h.Dyn != nil && dyncode.Valid(body.Dyn) {
		err = h.Dyn.VerifyForm(body.Token, body.Dyn, h.now())
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dyncode.ErrExpired):
		return refuse(http.StatusGone, "dynamic_expired", dyncode.MsgExpired)
	default:
		h.Log.WarnContext(ctx, "order with an invalid screen-code token", "security_event", true, "reason", "dynamic_invalid")
		return refuse(http.StatusForbidden, "dynamic_invalid", dyncode.MsgInvalid)
	}
}
