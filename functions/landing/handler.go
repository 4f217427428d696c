package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// OAuthSource gives the WeChat OAuth client for an interface.
type OAuthSource interface {
	OAuth(ctx context.Context, iface store.Interface) (wechatpay.OAuth, error)
}

// Handler serves the landing routes.
type Handler struct {
	Store         *store.Store
	OAuth         OAuthSource
	Log           *slog.Logger
	PublicBaseURL string
	MaxAmountFen  int64
}

const stateCookie = "ep_oauth_state"

// Handle routes by the API Gateway route key.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	switch req.RouteKey {
	case "GET /healthz":
		return h.health(ctx)
	case "GET /c/{token}":
		return h.landing(ctx, req)
	case "GET /c/{token}/orders/{id}":
		return h.result(ctx, req)
	}
	return web.Error(http.StatusNotFound, "not_found", "no such route"), nil
}

func (h *Handler) health(ctx context.Context) (web.Response, error) {
	// One read through the real data path: a missing item is healthy, an error is not.
	if _, err := h.Store.GetCode(ctx, "healthz"); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Log.ErrorContext(ctx, "health check", "err", err)
		return web.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"}), nil
	}
	return web.JSON(http.StatusOK, map[string]string{"status": "ok"}), nil
}

func notFound() web.Response {
	return web.Render(http.StatusNotFound, "message.html", web.MessagePage{Title: "收款码无效", Community: "收款码无效", Message: "该收款码不存在或已停用，请联系物业管理处。"})
}

func (h *Handler) collection(ctx context.Context, token string) (store.Collection, web.Response, bool, error) {
	if !domain.IsCodeToken(token) {
		return store.Collection{}, notFound(), false, nil
	}
	col, err := h.Store.LoadCollection(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return col, notFound(), false, nil
	}
	if err != nil {
		return col, web.Response{}, false, err
	}
	return col, web.Response{}, true, nil
}

func (h *Handler) landing(ctx context.Context, req web.Request) (web.Response, error) {
	token := req.PathParameters["token"]
	col, resp, ok, err := h.collection(ctx, token)
	if !ok || err != nil {
		return resp, err
	}
	decision := domain.DecideLanding(web.Header(req, "User-Agent"), col.Availability())
	title := col.Community.Name
	if !decision.ShowForm {
		return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: decision.Message}), nil
	}
	max := col.Community.MaxAmountFen
	if max == 0 {
		max = h.MaxAmountFen
	}
	page := web.PayPage{Title: title, Community: title, Company: col.Company.Name, Token: token, Channel: string(decision.App), MaxFen: max}
	if decision.App == domain.WeChat {
		openid, redirect, err := h.wechatPayer(ctx, req, *col.WeChat, token)
		if err != nil {
			h.Log.WarnContext(ctx, "wechat oauth failed", "token_prefix", token[:6], "err", err)
			return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: "微信授权失败，请重新扫码"}), nil
		}
		if redirect != nil {
			return *redirect, nil
		}
		page.PayerID = openid
		r := web.Render(http.StatusOK, "pay.html", page)
		// The state is single use: clear it.
		r.Cookies = []string{stateCookie + "=; Path=/c/; Max-Age=0; HttpOnly; SameSite=Lax" + h.secureAttr()}
		return r, nil
	}
	return web.Render(http.StatusOK, "pay.html", page), nil
}

// wechatPayer runs the snsapi_base OAuth round trip: without a code it redirects
// to WeChat with a fresh state (also set as a cookie); with one it checks the
// state and exchanges the code for the payer's openid.
func (h *Handler) wechatPayer(ctx context.Context, req web.Request, iface store.Interface, token string) (string, *web.Response, error) {
	oauth, err := h.OAuth.OAuth(ctx, iface)
	if err != nil {
		return "", nil, err
	}
	code := req.QueryStringParameters["code"]
	if code == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", nil, err
		}
		state := hex.EncodeToString(b)
		r := web.Redirect(oauth.AuthorizeURL(h.selfURL(req, "/c/"+url.PathEscape(token)), state))
		r.Cookies = []string{stateCookie + "=" + state + "; Path=/c/; Max-Age=600; HttpOnly; SameSite=Lax" + h.secureAttr()}
		return "", &r, nil
	}
	state := req.QueryStringParameters["state"]
	if state == "" || state != web.Cookie(req, stateCookie) {
		return "", nil, errors.New("oauth state mismatch")
	}
	openid, err := oauth.OpenID(ctx, code)
	if err != nil {
		return "", nil, err
	}
	return openid, nil, nil
}

// selfURL is this deployment's URL for path, on the host the browser used (so a
// custom domain, or a local WebView proxy, keeps the browser on the same origin).
func (h *Handler) selfURL(req web.Request, path string) string {
	scheme := "https"
	if strings.HasPrefix(h.PublicBaseURL, "http://") {
		scheme = "http"
	}
	host := web.Header(req, "Host")
	if host == "" {
		host = req.RequestContext.DomainName
	}
	return scheme + "://" + host + path
}

func (h *Handler) secureAttr() string {
	if strings.HasPrefix(h.PublicBaseURL, "https://") {
		return "; Secure"
	}
	return ""
}

func (h *Handler) result(ctx context.Context, req web.Request) (web.Response, error) {
	col, resp, ok, err := h.collection(ctx, req.PathParameters["token"])
	if !ok || err != nil {
		return resp, err
	}
	id := req.PathParameters["id"]
	if !payments.IsOrderID(id) {
		return notFound(), nil
	}
	title := col.Community.Name
	return web.Render(http.StatusOK, "result.html", web.ResultPage{Title: title, Community: title, OrderID: id}), nil
}
