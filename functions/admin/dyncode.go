package main

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/dyncode"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The screen code (F7) in the managers' app: GET /m/screen[?code=<id>] shows
// one of the caller's codes full screen, its URL carrying the minute token
// (shared/dyncode), and replaces it every minute without a reload from GET
// /m/api/screen (the QR drawn here as SVG). A photo of the screen stops
// paying within two minutes; the printed code keeps working unless the code
// is set to 动态码 only (store.Code.DynamicOnly). The code of a 分付
// merchant carries the blue 「分」 mark and the grey payment note.

// Screen is what the screen code needs.
type Screen struct {
	// Signer makes the minute tokens (DYNCODE_KEY_REF; nil answers 501).
	Signer *dyncode.Signer
	// Fenfu tells whether the code's merchant accepts 分付 (nil: from the
	// directory, store.Interface.OffersFenfu of the code's WeChat interface).
	Fenfu func(ctx context.Context, token string) (bool, error)
}

// ScreenCode is GET /m/api/screen.
type ScreenCode struct {
	URL         string `json:"url"` // the code's URL with ?d=<token of this minute>
	SVG         string `json:"svg"` // the QR, an inline <svg class="qr">
	Fenfu       bool   `json:"fenfu"`
	Note        string `json:"note,omitempty"` // the grey payment note of a 分付 merchant
	NextChange  string `json:"next_change"`    // RFC 3339: when the token is replaced
	RefreshInMs int64  `json:"refresh_in_ms"`  // until then
}

// offersFenfu: the collection's merchant accepts 分付, so its printed code
// carries the 分付 style (qrprint.Label.Fenfu).
func offersFenfu(col store.Collection) bool { return col.WeChat != nil && col.WeChat.OffersFenfu() }

func (h *Handler) fenfu(ctx context.Context, token string) (bool, error) {
	if h.Screen.Fenfu != nil {
		return h.Screen.Fenfu(ctx, token)
	}
	col, err := h.Store.LoadCollection(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return offersFenfu(col), nil
}

// screenCode is the caller's code id as it is this minute.
func (h *Handler) screenCode(ctx context.Context, c *call, id string) (ManagerCode, ScreenCode, error) {
	code, err := h.codes(c).Code(ctx, c.p, id)
	if err != nil {
		return code, ScreenCode{}, err
	}
	sc, err := h.screenOf(ctx, code.URL)
	return code, sc, err
}

// screenOf is the code of codeURL (<base>/c/<token>) as it is this minute.
func (h *Handler) screenOf(ctx context.Context, codeURL string) (ScreenCode, error) {
	if h.Screen.Signer == nil {
		return ScreenCode{}, errNoScreen
	}
	u, err := url.Parse(codeURL)
	if err != nil {
		return ScreenCode{}, err
	}
	token := u.Path[strings.LastIndex(u.Path, "/")+1:]
	fenfu, err := h.fenfu(ctx, token)
	if err != nil {
		return ScreenCode{}, err
	}
	now := h.Mobile.now()
	q := u.Query()
	q.Set(dyncode.Param, h.Screen.Signer.TokenAt(token, now))
	u.RawQuery = q.Encode()
	svg, err := qrprint.StyledSymbol(u.String(), "qr", qrprint.Style{Fenfu: fenfu})
	if err != nil {
		return ScreenCode{}, err
	}
	next := dyncode.NextChange(now)
	out := ScreenCode{URL: u.String(), SVG: string(svg), Fenfu: fenfu, NextChange: next.Format(time.RFC3339), RefreshInMs: next.Sub(now).Milliseconds()}
	if fenfu {
		out.Note = qrprint.FenfuNote
	}
	return out, nil
}

var errNoScreen = errors.New("screen code: no DYNCODE_KEY_REF key")

func (h *Handler) screenFail(ctx context.Context, c *call, err error) web.Response {
	if errors.Is(err, errNoScreen) {
		return h.fail(c, http.StatusNotImplemented, "not_configured", "动态收款码未配置")
	}
	return h.mobileFail(ctx, c, err, "screen code")
}

// apiScreen is GET /m/api/screen[?code=<id>].
func (h *Handler) apiScreen(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	_, out, err := h.screenCode(ctx, c, strings.TrimSpace(c.req.QueryStringParameters["code"]))
	if err != nil {
		return h.screenFail(ctx, c, err)
	}
	return noStore(web.JSON(http.StatusOK, out))
}

type screenView struct {
	Title, Payee, CodeName string
	URL                    string // what the QR encodes (data-url, for tests and support)
	QR                     template.HTML
	Note                   string
	API                    string // this code's JSON (GET /m/api/screen, /admin/api/codes/{token}/screen)
	Back, BackText         string
	RefreshInMs            int64
}

// mobileScreen is GET /m/screen[?code=<id>]: the code in the first answer,
// then the script's minute refresh.
func (h *Handler) mobileScreen(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	id := strings.TrimSpace(c.req.QueryStringParameters["code"])
	code, sc, err := h.screenCode(ctx, c, id)
	if err != nil {
		return h.screenFail(ctx, c, err)
	}
	v := screenView{Title: "动态收款码", Payee: c.p.Name, CodeName: code.Code.Name, URL: sc.URL, QR: template.HTML(sc.SVG), Note: sc.Note,
		API: "/m/api/screen", Back: mobileHome, BackText: "返回收款码", RefreshInMs: sc.RefreshInMs}
	if id != "" {
		v.API += "?" + url.Values{"code": {id}}.Encode()
		v.Back += "?" + url.Values{"code": {id}}.Encode()
	}
	return h.renderScreen(ctx, c, v)
}

// renderScreen writes the screen page with its own CSP (its script and
// style by hash, fetches to our origin only).
func (h *Handler) renderScreen(ctx context.Context, c *call, v screenView) web.Response {
	var buf bytes.Buffer
	if err := screenTemplate().Execute(&buf, v); err != nil {
		return h.internal(ctx, c, "screen page", err)
	}
	r := web.Text(http.StatusOK, buf.String())
	r.Headers["Content-Type"] = "text/html; charset=utf-8"
	r.Headers["Content-Security-Policy"] = "default-src 'none'; script-src " + hashSource(screenJS) + "; style-src " + hashSource(screenCSS) +
		"; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	r.Headers["X-Frame-Options"] = "DENY"
	r.Headers["Cache-Control"] = "no-store"
	return r
}

const screenCSS = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;font-family:-apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;background:#07c160;color:#222;display:flex;flex-direction:column;align-items:center}
header{color:#fff;text-align:center;padding:28px 16px 16px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:6px 0 0;font-size:15px;opacity:.9}
.card{background:#fff;border-radius:16px;margin:0 16px;padding:20px 20px 16px;width:calc(100% - 32px);max-width:420px;text-align:center;box-shadow:0 4px 16px rgba(0,0,0,.12)}
#qr svg{width:100%;max-width:340px;height:auto;display:block;margin:0 auto}
#qr.stale svg{opacity:.25}
.note{color:#8c8c8c;font-size:10px;margin:6px 0 0}
.live{margin:14px 0 0;font-size:14px;color:#555}
.live b{color:#07c160;font-variant-numeric:tabular-nums}
.warn{color:#c0392b;font-size:14px;min-height:20px;margin:8px 0 0}
.tip{color:#fff;font-size:13px;opacity:.9;margin:16px;text-align:center;line-height:1.6}
a.back{color:#fff;font-size:15px;margin:4px 0 24px}
`

// screenJS is the page's script, hashed for the CSP: no comments in it
// (html/template strips them, which would change the hash). It counts down
// to the next change, then fetches the code (the SVG is the server's,
// modules only) and greys the code out once it can no longer pay.
const screenJS = `
(function () {
  var body = document.body, api = body.getAttribute('data-api');
  var box = document.getElementById('qr'), left = document.getElementById('left'), warn = document.getElementById('warn');
  var note = document.getElementById('note');
  var due = Date.now() + (parseInt(body.getAttribute('data-refresh'), 10) || 60000);
  var staleAt = due + 60000;
  function tick() {
    var s = Math.max(0, Math.ceil((due - Date.now()) / 1000));
    left.textContent = s;
    if (Date.now() > staleAt) { box.classList.add('stale'); }
  }
  function load() {
    fetch(api, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'application/json' } })
      .then(function (r) { if (!r.ok) { throw r.status; } return r.json(); })
      .then(function (c) {
        box.innerHTML = c.svg;
        box.classList.remove('stale');
        box.setAttribute('data-url', c.url);
        note.textContent = c.note || '';
        warn.textContent = '';
        due = Date.now() + c.refresh_in_ms;
        staleAt = due + 60000;
        setTimeout(load, c.refresh_in_ms + 300);
      })
      .catch(function (s) {
        warn.textContent = s === 401 ? '登录已过期，请重新登录' : '网络异常，正在重试…';
        if (s !== 401) { setTimeout(load, 5000); }
      });
  }
  setInterval(tick, 1000);
  tick();
  setTimeout(load, due - Date.now() + 300);
})();
`

const screenHTML = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<title>{{.Title}}</title>
<style>` + screenCSS + `</style></head>
<body data-api="{{.API}}" data-refresh="{{.RefreshInMs}}">
<header><h1>{{.Payee}}</h1>{{if .CodeName}}<p>{{.CodeName}}</p>{{end}}</header>
<main class="card">
<div id="qr" data-url="{{.URL}}">{{.QR}}</div>
<p class="note" id="note">{{.Note}}</p>
<p class="live">动态收款码 · <b id="left">60</b> 秒后更新</p>
<p class="warn" id="warn" role="status"></p>
</main>
<p class="tip">请付款人用微信或支付宝扫描屏幕上的二维码<br>二维码每分钟更新，截图或拍照两分钟内失效</p>
<a class="back" href="{{.Back}}">{{.BackText}}</a>
<script>` + screenJS + `</script>
</body></html>`

var screenTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("screen").Parse(screenHTML))
})

// setDynamicOnly is POST /admin/codes/{token}/dynamic-only (on=1 or 0): the
// admin sets a community code to 动态码 only — a scan of its printed form
// (no minute token) is refused — or back. Rotating the code keeps the
// setting (codemanage.go).
func (h *Handler) setDynamicOnly(ctx context.Context, c *call) web.Response {
	code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
	if !ok {
		return resp
	}
	on := c.form.Get("on") == "1"
	back := "/admin/communities/" + cm.ID
	if code.Status != "active" {
		return h.formError(c, "该收款码已作废", back)
	}
	if code.DynamicOnly == on {
		return c.done(back, "saved")
	}
	before, after, err := h.Store.UpdateCode(ctx, code.Token, func(cd *store.Code) error { cd.DynamicOnly = on; return nil })
	if errors.Is(err, store.ErrConflict) {
		return h.formError(c, "该收款码刚被修改，请刷新后重试", back)
	}
	if err != nil {
		return h.internal(ctx, c, "dynamic only", err)
	}
	h.audit(ctx, c, "code.dynamic_only", "code", code.Token, before, after)
	return c.done(back, "saved")
}

// The counter display (柜台屏幕) of a community code in the console: GET
// /admin/codes/{token}/screen and its JSON GET
// /admin/api/codes/{token}/screen, for staff who may see the community.
func (h *Handler) consoleScreenCode(ctx context.Context, c *call) (store.Code, store.Community, ScreenCode, web.Response, bool) {
	code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
	if !ok {
		return code, cm, ScreenCode{}, resp, false
	}
	if code.Status != "active" || code.OwnerID != "" {
		return code, cm, ScreenCode{}, h.notFound(c), false
	}
	sc, err := h.screenOf(ctx, qrprint.CodeURL(h.PublicBaseURL, code.Token))
	if err != nil {
		return code, cm, sc, h.screenFail(ctx, c, err), false
	}
	return code, cm, sc, web.Response{}, true
}

func (h *Handler) apiCodeScreen(ctx context.Context, c *call) web.Response {
	_, _, sc, resp, ok := h.consoleScreenCode(ctx, c)
	if !ok {
		return resp
	}
	return noStore(web.JSON(http.StatusOK, sc))
}

func (h *Handler) codeScreen(ctx context.Context, c *call) web.Response {
	code, cm, sc, resp, ok := h.consoleScreenCode(ctx, c)
	if !ok {
		return resp
	}
	esc := url.PathEscape(code.Token)
	return h.renderScreen(ctx, c, screenView{Title: "动态收款码 - " + cm.Name, Payee: cm.Name, CodeName: "物业缴费", URL: sc.URL, QR: template.HTML(sc.SVG),
		Note: sc.Note, API: "/admin/api/codes/" + esc + "/screen", Back: "/admin/communities/" + url.PathEscape(cm.ID), BackText: "返回小区", RefreshInMs: sc.RefreshInMs})
}
