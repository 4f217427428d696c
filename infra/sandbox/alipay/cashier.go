package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var pageTmpl = template.Must(template.New("cashier").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{if .Error}}支付宝 - 错误{{else}}支付宝 - 收银台{{end}}</title>
<style>body{font-family:sans-serif;max-width:480px;margin:0 auto;padding:16px}
.amount{font-size:32px;margin:16px 0}button{width:100%;padding:12px;margin:6px 0;font-size:18px}
.pay{background:#1677ff;color:#fff;border:0}</style></head><body>
<h1>支付宝沙箱</h1>
{{if .Error}}<div id="error"><p>{{.Error.SubMsg}}</p><p>错误代码：<code id="sub-code">{{.Error.SubCode}}</code></p></div>
{{else}}<div id="cashier">
<p id="subject">{{.Subject}}</p>
<p class="amount" id="amount">¥{{.Amount}}</p>
<p>订单号：<span id="out-trade-no">{{.OutTradeNo}}</span></p>
{{if .Expire}}<p>请在 {{.Expire}} 前完成支付</p>{{end}}
<form method="post" action="cashier/pay"><input type="hidden" name="ticket" value="{{.Ticket}}"><button class="pay" id="pay" type="submit">支付</button></form>
<form method="post" action="cashier/cancel"><input type="hidden" name="ticket" value="{{.Ticket}}"><button id="cancel" type="submit">取消</button></form>
</div>{{end}}
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
</body></html>`))

type pageData struct {
	Error      *apiError
	Subject    string
	Amount     string
	OutTradeNo string
	Expire     string
	Ticket     string
	Message    string
}

func renderPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, d)
}

func (s *Server) renderError(w http.ResponseWriter, status int, e *apiError) {
	renderPage(w, status, pageData{Error: e})
}

func validOutTradeNo(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func parseExpire(v string) (time.Time, error) {
	if t, err := time.ParseInLocation(timeLayout, v, cst); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02 15:04", v, cst)
}

// handleWapPay opens (or reopens) the trade and shows the cashier.
func (s *Server) handleWapPay(w http.ResponseWriter, r *http.Request, c *call) {
	out, subject := c.bizString("out_trade_no"), c.bizString("subject")
	amount, amountErr := domain.ParseYuan(c.bizString("total_amount"))
	var expire time.Time
	var e *apiError
	switch {
	case !validOutTradeNo(out):
		e = business("ACQ.INVALID_PARAMETER", "参数无效：out_trade_no")
	case amountErr != nil || amount < 1 || amount > maxAmountFen:
		e = business("ACQ.INVALID_PARAMETER", "参数无效：total_amount")
	case subject == "" || len([]rune(subject)) > 256:
		e = business("ACQ.INVALID_PARAMETER", "参数无效：subject")
	case c.bizString("product_code") != "QUICK_WAP_WAY":
		e = business("ACQ.INVALID_PARAMETER", "参数无效：product_code")
	}
	if e == nil {
		if te := c.bizString("time_expire"); te != "" {
			var err error
			if expire, err = parseExpire(te); err != nil {
				e = business("ACQ.INVALID_PARAMETER", "参数无效：time_expire")
			} else if !c.now.Before(expire) {
				e = business("ACQ.TRADE_HAS_CLOSE", "交易已超时关闭")
			}
		}
	}
	if e != nil {
		s.renderError(w, http.StatusOK, e)
		return
	}
	s.mu.Lock()
	key := tradeKey(c.app, out)
	t := s.trades[key]
	if t == nil {
		t = &trade{
			key: key, app: c.app, authApp: c.app.authApp(), tradeNo: newTradeNo(c.now), outTrade: out,
			subject: subject, body: c.bizString("body"), totalFen: amount, status: StatusWaitBuyerPay,
			created: c.now, expire: expire,
			notifyURL: c.form.Get("notify_url"), returnURL: c.form.Get("return_url"), quitURL: c.bizString("quit_url"),
		}
		s.trades[key] = t
	} else {
		s.refreshLocked(t)
		switch {
		case t.totalFen != amount || t.subject != subject:
			e = business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
		case t.status == StatusSuccess || t.status == StatusFinished:
			e = business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
		case t.status == StatusClosed:
			e = business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
		}
	}
	var ticket string
	if e == nil {
		ticket = randomHex(16)
		s.tickets[ticket] = key
	}
	d := pageData{Subject: t.subject, Amount: domain.FormatYuan(t.totalFen), OutTradeNo: t.outTrade, Ticket: ticket, Error: e}
	if !t.expire.IsZero() {
		d.Expire = fmtTime(t.expire)
	}
	s.mu.Unlock()
	renderPage(w, http.StatusOK, d)
}

func (s *Server) ticketTradeLocked(r *http.Request) *trade {
	if r.ParseForm() != nil {
		return nil
	}
	key, ok := s.tickets[r.PostForm.Get("ticket")]
	if !ok {
		return nil
	}
	t := s.trades[key]
	if t != nil {
		s.refreshLocked(t)
	}
	return t
}

// handleCashierPay is the 支付 button: pay, notify, and send the browser to
// return_url with the signed sync-return parameters.
func (s *Server) handleCashierPay(w http.ResponseWriter, r *http.Request) {
	uid := sandboxUser(w, r) // the browser's Alipay user: the same buyer every time
	s.mu.Lock()
	t := s.ticketTradeLocked(r)
	if t == nil {
		s.mu.Unlock()
		s.renderError(w, http.StatusBadRequest, business("ACQ.INVALID_PARAMETER", "收银台会话无效"))
		return
	}
	if _, err := s.payLocked(t, uid); err != nil {
		s.mu.Unlock()
		s.renderError(w, http.StatusOK, business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"))
		return
	}
	returnURL := t.returnURL
	params := url.Values{
		"charset":      {"utf-8"},
		"out_trade_no": {t.outTrade},
		"method":       {"alipay.trade.wap.pay.return"},
		"total_amount": {domain.FormatYuan(t.totalFen)},
		"trade_no":     {t.tradeNo},
		"auth_app_id":  {t.authApp},
		"version":      {"1.0"},
		"app_id":       {t.app.AppID},
		"seller_id":    {t.app.SellerID},
		"timestamp":    {fmtTime(s.now())},
	}
	if t.app.SellerID == "" {
		params.Del("seller_id")
	}
	s.mu.Unlock()
	if returnURL == "" {
		renderPage(w, http.StatusOK, pageData{Message: "支付成功"})
		return
	}
	if err := SignForm(s.cfg.AlipayKey, params); err != nil {
		http.Error(w, "sign", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, appendQuery(returnURL, params), http.StatusSeeOther)
}

// handleCashierCancel is the 取消 button: back to quit_url.
func (s *Server) handleCashierCancel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.ticketTradeLocked(r)
	quit := ""
	if t != nil {
		quit = t.quitURL
	}
	s.mu.Unlock()
	if t == nil {
		s.renderError(w, http.StatusBadRequest, business("ACQ.INVALID_PARAMETER", "收银台会话无效"))
		return
	}
	if quit == "" {
		renderPage(w, http.StatusOK, pageData{Message: "已取消支付"})
		return
	}
	http.Redirect(w, r, quit, http.StatusSeeOther)
}

func appendQuery(raw string, params url.Values) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + params.Encode()
}
