package main

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// dynamic checks a code's screen form (F7): the minute token in the URL
// (?d=…) must be of the current or the previous minute; a code an admin set
// to 动态码 only pays through its screen form alone. It returns the page to
// answer instead of the form when the scan is refused.
func (h *Handler) dynamic(col store.Collection, dyn string) (web.Response, bool) {
	if dyn == "" && !col.Code.DynamicOnly {
		return web.Response{}, true
	}
	name := col.Company.Name
	if col.Code.OwnerID == "" && col.Community.Name != "" {
		name = col.Community.Name
	}
	page := func(status int, title, msg string) (web.Response, bool) {
		r := web.Render(status, "message.html", web.MessagePage{Title: title, Community: name, Message: msg})
		r.Headers["Cache-Control"] = "no-store"
		return r, false
	}
	if dyn == "" {
		return page(http.StatusForbidden, "请扫描动态码", dyncode.MsgRequired)
	}
	var err error = dyncode.ErrInvalid
	if h.Dyn != nil {
		err = h.Dyn.Verify(col.Code.Token, dyn, h.now())
	}
	switch {
	case err == nil:
		return web.Response{}, true
	case errors.Is(err, dyncode.ErrExpired):
		return page(http.StatusGone, "动态码已过期", dyncode.MsgExpired)
	default:
		return page(http.StatusForbidden, "动态码无效", dyncode.MsgInvalid)
	}
}

// withDyn is the path of a code's page with its minute token, so the OAuth
// round trip comes back to the screen form it left.
func withDyn(path, dyn string) string {
	if dyn == "" {
		return path
	}
	return path + "?" + dyncode.Param + "=" + url.QueryEscape(dyn)
}
