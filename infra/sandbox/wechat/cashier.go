package wechat

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

var pageTemplate = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#ededed;color:#191919}
main{max-width:420px;margin:0 auto;padding:32px 20px;text-align:center}
.amount{font-size:40px;font-weight:600;margin:16px 0}.desc{color:#555}.tag{color:#999;font-size:12px;margin-top:24px}
button{display:block;width:100%;font-size:17px;padding:12px;margin:12px 0;border:0;border-radius:8px}
.pay{background:#07c160;color:#fff}.cancel{background:#fff;color:#191919}.error{color:#fa5151}</style></head><body><main>{{end}}

{{define "foot"}}<p class="tag">微信支付沙箱 · 非真实交易</p></main></body></html>{{end}}

{{define "message"}}{{template "head" .}}<h2>{{.Title}}</h2><p class="error" id="message">{{.Message}}</p>{{template "foot" .}}{{end}}

{{define "cashier"}}{{template "head" .}}
<p class="desc" id="merchant">{{.Merchant}}</p>
<p class="desc" id="description">{{.Description}}</p>
<div class="amount" id="amount">¥{{.Amount}}</div>
{{if .Fenfu}}<p class="desc" id="fenfu">付款方式：分付</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="prepay_id" value="{{.PrepayID}}">
<button class="pay" id="pay" name="action" value="pay" type="submit">支付</button>
<button class="cancel" id="cancel" name="action" value="cancel" type="submit">取消</button>
</form>{{template "foot" .}}{{end}}

{{define "result"}}{{template "head" .}}<h2 id="result">{{.Message}}</h2>
<button class="cancel" id="done" type="button">完成</button>
<script>(function(){var msg={source:"wxsandbox",err_msg:{{.ErrMsg}}};
function back(){if(window.parent!==window){window.parent.postMessage(msg,"*");}}
document.getElementById("done").addEventListener("click",back);back();})();</script>
{{template "foot" .}}{{end}}
`))

func renderPage(w http.ResponseWriter, status int, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTemplate.ExecuteTemplate(w, name, data)
}

// verifyPaySign checks the JSAPI parameters the page passed to
// getBrandWCPayRequest and returns the trade they open.
func (s *Server) verifyPaySign(appID, timeStamp, nonceStr, pkg, signType, paySign string) (*trade, error) {
	prepayID, ok := strings.CutPrefix(pkg, "prepay_id=")
	if !ok {
		return nil, errors.New("package参数错误，应为prepay_id=...")
	}
	prepayID, token, withToken := strings.Cut(prepayID, "&market_exposure_token=")
	if withToken && token == "" {
		return nil, errors.New("package参数错误，market_exposure_token为空")
	}
	s.mu.Lock()
	t := s.byPrepay[prepayID]
	s.mu.Unlock()
	if t == nil {
		return nil, errors.New("prepay_id无效或已过期")
	}
	if appID != t.payAppID() {
		return nil, errors.New("appId与下单时的appid不一致")
	}
	if signType != "RSA" {
		return nil, errors.New("signType必须为RSA")
	}
	m := s.merchants[t.mchID]
	if m == nil || !verifySHA256(m.PublicKey, fmt.Sprintf("%s\n%s\n%s\n%s\n", appID, timeStamp, nonceStr, pkg), paySign) {
		return nil, errors.New("支付验证签名失败（paySign错误）")
	}
	if withToken {
		s.mu.Lock()
		ok := s.honourExposureToken(t, token)
		s.mu.Unlock()
		if !ok {
			return nil, errors.New("market_exposure_token无效或已过期")
		}
	}
	return t, nil
}

// handleCashier shows the cashier for JSAPI parameters (from the JS bridge).
func (s *Server) handleCashier(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	t, err := s.verifyPaySign(q.Get("appId"), q.Get("timeStamp"), q.Get("nonceStr"), q.Get("package"), q.Get("signType"), q.Get("paySign"))
	if err != nil {
		s.log.Warn("cashier rejected JSAPI parameters", "reason", err.Error())
		renderPage(w, http.StatusBadRequest, "result", map[string]any{"Title": "支付失败", "Message": err.Error(),
			"ErrMsg": "get_brand_wcpay_request:fail"})
		return
	}
	s.mu.Lock()
	t.expireIfDue(s.now())
	state, total, desc, prepay, mch, fenfu := t.state, t.total, t.desc, t.prepayID, t.mchID, t.fenfu
	if t.partner {
		mch = t.subMchID
	}
	s.mu.Unlock()
	if state != StateNotPay {
		renderPage(w, http.StatusOK, "result", map[string]any{"Title": "支付失败", "Message": stateDesc[state],
			"ErrMsg": "get_brand_wcpay_request:fail"})
		return
	}
	renderPage(w, http.StatusOK, "cashier", map[string]any{"Title": "微信支付", "Merchant": "商户号 " + mch,
		"Description": desc, "Amount": yuan(total), "PrepayID": prepay, "Action": r.URL.Path, "Fenfu": fenfu})
}

// handleCashierAction handles the 支付 / 取消 buttons.
func (s *Server) handleCashierAction(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	prepayID := r.PostForm.Get("prepay_id")
	if r.PostForm.Get("action") != "pay" {
		renderPage(w, http.StatusOK, "result", map[string]any{"Title": "微信支付", "Message": "已取消支付",
			"ErrMsg": "get_brand_wcpay_request:cancel"})
		return
	}
	if err := s.PayPrepay(prepayID); err != nil {
		msg := "支付失败"
		if errors.Is(err, ErrTradeState) {
			msg = "订单已支付或已关闭"
		}
		renderPage(w, http.StatusOK, "result", map[string]any{"Title": "微信支付", "Message": msg,
			"ErrMsg": "get_brand_wcpay_request:fail"})
		return
	}
	renderPage(w, http.StatusOK, "result", map[string]any{"Title": "微信支付", "Message": "支付成功",
		"ErrMsg": "get_brand_wcpay_request:ok"})
}
