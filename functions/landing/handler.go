package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/pay/alipay"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// OAuthSource gives the OAuth clients of an interface (providers.Registry):
// WeChat's snsapi_base and Alipay's auth_base, each from the interface's
// OAuth secret only.
type OAuthSource interface {
	OAuth(ctx context.Context, iface store.Interface) (wechatpay.OAuth, error)
	AlipayOAuth(ctx context.Context, iface store.Interface) (*alipay.OAuth, error)
}

// Directory resolves scanned codes (store.CachedDirectory).
type Directory interface {
	LoadCollection(ctx context.Context, token string) (store.Collection, error)
}

// OrderReader reads orders for the receipt (store.Orders).
type OrderReader interface {
	Get(ctx context.Context, id string) (order.Order, error)
}

// Handler serves the landing routes.
type Handler struct {
	Directory     Directory
	Store         *store.Store // health check: one uncached directory read
	Orders        OrderReader
	Notices       Notices
	OAuth         OAuthSource
	Log           *slog.Logger
	PublicBaseURL string
	MaxAmountFen  int64
	Payers        web.PayerCookies   // the signed payer identity (bug 9; X4)
	History       PayerHistory       // the payer's own payments (X4)
	Dyn           *dyncode.Signer    // screen codes' minute tokens (F7; nil: every token refused)
	Unsub         *Unsubscribe       // the reminders' 退订 link (unsubscribe.go; nil: 404)
	Invoicing     *invoicing.Service // e-invoices on receipts (issue 13, invoice.go; nil: none)
	RemindBind    *RemindBind        // 微信接收缴费提醒 on notices (remindbind.go; nil: not offered)
	Now           func() time.Time
}

const (
	stateCookie = "ep_oauth_state"
	// retryParam marks an OAuth round trip that is already a retry: a second
	// failure shows a message instead of looping through WeChat again.
	retryParam = "oauth_retry"
)

// Messages of the landing pages.
const (
	msgOAuthFailed   = "微信授权失败，请重新扫码"
	msgOrderNotFound = "未找到该订单，请返回重新支付。"
)

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Handle routes by the API Gateway route key. Anything else (the $default
// route: "/", unknown paths) is a Chinese 404 page for browsers and a JSON 404
// for programs.
func (h *Handler) Handle(ctx context.Context, req web.Request) (web.Response, error) {
	switch req.RouteKey {
	case "GET /healthz":
		return h.health(ctx)
	case "GET /c/{token}":
		return h.landing(ctx, req)
	case "GET /c/{token}/orders/{id}":
		return h.result(ctx, req)
	case "GET /n/{id}":
		return h.notice(ctx, req)
	case "GET /n/{id}/orders/{oid}":
		return h.noticeResult(ctx, req)
	case "GET /c/{token}/history":
		return h.codeHistory(ctx, req)
	case "GET /n/{id}/history":
		return h.noticeHistory(ctx, req)
	case "GET /u/{token}", "POST /u/{token}": // 催缴 退订 (unsubscribe.go)
		return h.unsubscribe(ctx, req)
	case "GET /c/{token}/orders/{id}/invoice", "GET /n/{id}/orders/{oid}/invoice":
		return h.invoiceForm(ctx, req)
	case "POST /c/{token}/orders/{id}/invoice", "POST /n/{id}/orders/{oid}/invoice":
		return h.invoicePost(ctx, req)
	}
	return web.NotFound(req), nil
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

// MsgCodeExpired is the page of a manager's code that a refresh replaced
// more than managercode.Grace ago (M4).
const MsgCodeExpired = "此收款码已失效"

// expired answers a replaced code whose grace has passed: 410 Gone, a page
// saying so (never the form), so a customer holding an old screenshot asks
// for the current code.
func expired(col store.Collection) web.Response {
	name := col.Company.Name
	if name == "" {
		name = "收款码"
	}
	r := web.Render(http.StatusGone, "message.html", web.MessagePage{Title: MsgCodeExpired, Community: name,
		Message: MsgCodeExpired + "，请向收款人索取新的收款码。"})
	r.Headers["Cache-Control"] = "no-store"
	return r
}

func (h *Handler) collection(ctx context.Context, token string) (store.Collection, web.Response, bool, error) {
	if !domain.IsCodeToken(token) {
		return store.Collection{}, notFound(), false, nil
	}
	col, err := h.Directory.LoadCollection(ctx, token)
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
	if !col.Code.Usable(h.now()) {
		return expired(col), nil
	}
	dyn := req.QueryStringParameters[dyncode.Param]
	if r, ok := h.dynamic(col, dyn); !ok {
		return r, nil
	}
	decision := domain.DecideLanding(web.Header(req, "User-Agent"), col.Availability())
	title := col.Community.Name
	if col.Code.OwnerID != "" {
		title = col.Company.Name
	}
	if !decision.ShowForm {
		return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: decision.Message}), nil
	}
	max := col.Community.MaxAmountFen
	if max == 0 {
		max = h.MaxAmountFen
	}
	page := web.PayPage{Title: title, Community: title, Company: col.Company.Name, Token: token, Channel: string(decision.App), MaxFen: max, Fields: col.PayerFields(), Dyn: dyn}
	if col.Code.OwnerID != "" { // a business manager's code (M3, M4)
		page.Payee, page.Preset = col.Code.OwnerName, col.Code.Preset
		if col.Code.CodeID != managercode.DefaultID {
			page.CodeName = col.Code.Name
		}
	}
	if decision.App != domain.WeChat {
		return web.Render(http.StatusOK, "pay.html", page), nil
	}
	payer, cookies, redirect, err := h.payer(ctx, req, *col.WeChat, withDyn("/c/"+url.PathEscape(token), dyn))
	if err != nil {
		h.Log.WarnContext(ctx, "wechat oauth failed", "token_prefix", token[:6], "err", err)
		return web.Render(http.StatusOK, "message.html", web.MessagePage{Title: title, Community: title, Message: msgOAuthFailed}), nil
	}
	if redirect != nil {
		return *redirect, nil
	}
	page.Fenfu, page.FenfuAlways = h.fenfuChoice(ctx, col, payer)
	r := web.Render(http.StatusOK, "pay.html", page)
	r.Cookies = cookies
	return r, nil
}

// fenfuChoice is whether the WeChat form offers 分付 (F5: the merchant offers
// it; JSAPI only) and whether at any amount (the payer's first payment of
// the day) rather than from 10.00 yuan. The provider's exposure answer and
// the risk rules decide when the order is made (payments.Fenfu.Admit).
func (h *Handler) fenfuChoice(ctx context.Context, col store.Collection, payer web.Payer) (bool, bool) {
	if col.WeChat == nil || !col.WeChat.OffersFenfu() {
		return false, false
	}
	if h.History == nil || payer.OpenID == "" {
		return true, false
	}
	page, err := h.History.PayerOrders(ctx, col.Company.ID, col.Community.ID, order.PayerKeyOf(domain.WeChat, col.WeChat.OAuthAppID(), payer.OpenID), "", 1)
	if err != nil {
		h.Log.WarnContext(ctx, "fenfu: payer history", "err", err)
		return true, false
	}
	first := len(page.Orders) == 0 || page.Orders[0].PaidAt.IsZero() ||
		calendar.BusinessDay(page.Orders[0].PaidAt) != calendar.BusinessDay(h.now())
	return true, first
}

// payer establishes the payer identity for a page, through the OAuth step of
// iface's provider (WeChat snsapi_base; Alipay auth_base):
//
//   - a valid payer cookie for this interface and app is enough: no OAuth
//     round trip (a reload, or Back after paying);
//   - a fresh OAuth code with the matching state is exchanged for the
//     payer's id, which is issued as the signed payer cookie;
//   - a used, replayed or invalid code falls back to the payer cookie when
//     there is one, else redoes the OAuth step silently — once: a second
//     failure in a row is an error (授权失败), never a redirect loop.
//
// It returns the identity and the cookies to set, or a redirect to the
// provider's authorize page.
func (h *Handler) payer(ctx context.Context, req web.Request, iface store.Interface, page string) (web.Payer, []string, *web.Response, error) {
	now := h.now()
	appID := iface.OAuthAppID()
	p, cerr := h.Payers.Read(req, now)
	haveCookie := cerr == nil && p.Iface == iface.ID && p.AppID == appID
	code := req.QueryStringParameters[codeParam(iface.Channel)]
	if code == "" {
		if haveCookie {
			return p, nil, nil, nil
		}
		redirect, err := h.authorize(ctx, req, iface, page, false)
		return web.Payer{}, nil, redirect, err
	}
	issued, cookies, err := h.exchange(ctx, req, iface, code, statePath(page), now)
	if err == nil {
		return issued, cookies, nil, nil
	}
	if haveCookie {
		// The code was replayed (Back, reload): the identity we issued stands.
		h.Log.InfoContext(ctx, "oauth code not usable; payer cookie kept", "page_prefix", page[:9], "err", err)
		return p, []string{clearState(statePath(page), h.secureAttr())}, nil, nil
	}
	if req.QueryStringParameters[retryParam] != "" {
		return web.Payer{}, nil, nil, err
	}
	h.Log.InfoContext(ctx, "oauth code not usable; authorising again", "page_prefix", page[:9], "err", err)
	redirect, err := h.authorize(ctx, req, iface, page, true)
	return web.Payer{}, nil, redirect, err
}

// codeParam is the query parameter the provider's authorize page sends the
// code back in.
func codeParam(ch domain.Channel) string {
	if ch == domain.Alipay {
		return "auth_code"
	}
	return "code"
}

// identifier is one provider's OAuth step: where the browser goes for a
// code, and whom a code names.
type identifier struct {
	authorizeURL func(redirectURI, state string) string
	identify     func(ctx context.Context, code string) (string, error)
}

func (h *Handler) identifier(ctx context.Context, iface store.Interface) (identifier, error) {
	if iface.Channel == domain.Alipay {
		o, err := h.OAuth.AlipayOAuth(ctx, iface)
		if err != nil {
			return identifier{}, err
		}
		return identifier{o.AuthorizeURL, o.UserID}, nil
	}
	o, err := h.OAuth.OAuth(ctx, iface)
	if err != nil {
		return identifier{}, err
	}
	return identifier{o.AuthorizeURL, o.OpenID}, nil
}

// authorize redirects to the provider with a fresh state (also set as a
// cookie), coming back to page (a code's /c/… or a notice's /n/…).
func (h *Handler) authorize(ctx context.Context, req web.Request, iface store.Interface, page string, retry bool) (*web.Response, error) {
	id, err := h.identifier(ctx, iface)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	state := hex.EncodeToString(b)
	back := page
	if retry {
		sep := "?"
		if strings.Contains(page, "?") {
			sep = "&"
		}
		back += sep + retryParam + "=1"
	}
	r := web.Redirect(id.authorizeURL(h.selfURL(req, back), state))
	r.Cookies = []string{stateCookie + "=" + state + "; Path=" + statePath(page) + "; Max-Age=600; HttpOnly; SameSite=Lax" + h.secureAttr()}
	return &r, nil
}

// exchange checks the state and trades the code for the payer's id,
// returning the identity and the payer cookies to set (and the cleared
// state: it is single use).
func (h *Handler) exchange(ctx context.Context, req web.Request, iface store.Interface, code, cookiePath string, now time.Time) (web.Payer, []string, error) {
	state := req.QueryStringParameters["state"]
	if state == "" || state != web.Cookie(req, stateCookie) {
		return web.Payer{}, nil, errors.New("oauth state mismatch")
	}
	id, err := h.identifier(ctx, iface)
	if err != nil {
		return web.Payer{}, nil, err
	}
	who, err := id.identify(ctx, code)
	if err != nil {
		return web.Payer{}, nil, err
	}
	p := web.Payer{Iface: iface.ID, AppID: iface.OAuthAppID(), OpenID: who}
	cookies, err := h.Payers.Issue(p, now)
	if err != nil {
		return web.Payer{}, nil, err
	}
	return p, append(cookies, clearState(cookiePath, h.secureAttr())), nil
}

// statePath is the path the OAuth state cookie is scoped to: the kind of
// page that asked ("/c/" codes, "/n/" notices).
func statePath(page string) string { return page[:3] }

func clearState(path, secure string) string {
	return stateCookie + "=; Path=" + path + "; Max-Age=0; HttpOnly; SameSite=Lax" + secure
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

// result renders the receipt of an order made through this code. Unknown
// orders, and orders of any other code, are a 404 page: the page never shows
// another community's payment under this code's name.
func (h *Handler) result(ctx context.Context, req web.Request) (web.Response, error) {
	token := req.PathParameters["token"]
	col, resp, ok, err := h.collection(ctx, token)
	if !ok || err != nil {
		return resp, err
	}
	title := col.Community.Name
	orderNotFound := web.Render(http.StatusNotFound, "message.html", web.MessagePage{Title: title, Community: title, Message: msgOrderNotFound})
	id := req.PathParameters["id"]
	if !payments.IsOrderID(id) {
		return orderNotFound, nil
	}
	o, err := h.Orders.Get(ctx, id)
	if errors.Is(err, order.ErrNotFound) {
		return orderNotFound, nil
	}
	if err != nil {
		return web.Response{}, err
	}
	if o.CodeToken != token {
		h.Log.WarnContext(ctx, "result page for another code's order", "order_id", id, "token_prefix", token[:6])
		return orderNotFound, nil
	}
	p := receipt(col, o)
	h.invoiceBlock(ctx, req, &p, o, "/c/"+url.PathEscape(token)+"/orders/"+url.PathEscape(id))
	return web.Render(http.StatusOK, "result.html", p), nil
}

// receipt is what the result page shows of o.
func receipt(col store.Collection, o order.Order) web.ResultPage {
	p := web.ResultPage{
		Title: "支付结果 - " + col.Community.Name, Community: col.Community.Name, Company: col.Company.Name,
		Back: "/c/" + url.PathEscape(o.CodeToken), OrderID: o.ID, Amount: domain.FormatYuan(o.AmountFen), ChannelName: o.Channel.Name(),
	}
	switch o.Status {
	case order.Paid:
		p.State, p.StatusText = "paid", "支付成功"
		p.PaidAt = calendar.FormatReadable(o.PaidAt)
	case order.Created, order.Pending:
		p.State, p.StatusText = "pending", "正在确认支付结果…"
	case order.Refunded:
		p.State, p.StatusText = "closed", "已退款"
	default:
		p.State, p.StatusText = "closed", "订单已关闭"
	}
	if o.BillsRefused {
		p.State, p.StatusText = "closed", "已退款"
		p.Note = "这笔付款对应的账单已由他人缴清，款项已原路退回"
		if o.RefundedFen < o.AmountFen {
			p.StatusText, p.Note = "退款中", "这笔付款对应的账单已由他人缴清，款项将原路退回"
		}
	} else if o.RefundedFen > 0 && o.Status == order.Paid {
		p.Note = "已退款 ¥" + domain.FormatYuan(o.RefundedFen)
	}
	shown := map[string]bool{}
	for _, f := range col.PayerFields() {
		if v := o.Fields[f.Key]; v != "" {
			p.Fields = append(p.Fields, web.ReceiptField{Label: f.Label, Value: v})
			shown[f.Key] = true
		}
	}
	// Values of fields no longer configured still belong on the receipt.
	rest := make([]string, 0, len(o.Fields))
	for k := range o.Fields {
		if !shown[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		p.Fields = append(p.Fields, web.ReceiptField{Label: k, Value: o.Fields[k]})
	}
	return p
}
