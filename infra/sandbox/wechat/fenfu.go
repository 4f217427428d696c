package wechat

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"
)

// FenfuPayer is how the sandbox answers 支付方式前置 (exposure) for one payer:
// their credit grade ("A"…"E") and whether 分付 may be shown to them.
type FenfuPayer struct {
	Grade    string
	Eligible bool
}

// defaultFenfuPayer answers for payers nobody configured: eligible, grade B.
var defaultFenfuPayer = FenfuPayer{Grade: "B", Eligible: true}

// exposureToken is one market_exposure_token the exposure call issued.
type exposureToken struct {
	mchID, openID string
	total         int64
	expires       time.Time
}

const exposureTokenLife = 30 * time.Minute

// SetFenfuPayer configures the exposure answer for payer openid.
func (s *Server) SetFenfuPayer(openid string, p FenfuPayer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fenfuPayers == nil {
		s.fenfuPayers = map[string]FenfuPayer{}
	}
	s.fenfuPayers[openid] = p
}

func (s *Server) fenfuPayer(openid string) FenfuPayer {
	if p, ok := s.fenfuPayers[openid]; ok {
		return p
	}
	return defaultFenfuPayer
}

type exposureBody struct {
	AppID     string `json:"appid"`
	MchID     string `json:"mchid"`
	SpMchID   string `json:"sp_mchid"`
	SubMchID  string `json:"sub_mchid"`
	OpenID    string `json:"openid"`
	SubOpenID string `json:"sub_openid"`
	Amount    *struct {
		Total *int64 `json:"total"`
	} `json:"amount"`
}

// handleExposure answers POST /v3/pay/transactions/exposure: whether to show
// 分付 (fqf_exposure) to this payer for this amount, with the
// market_exposure_token the JSAPI package then carries, and (a sandbox
// extension) the payer's credit_grade.
func (s *Server) handleExposure(w http.ResponseWriter, r *http.Request, c *call) {
	var b exposureBody
	if err := json.Unmarshal(c.body, &b); err != nil {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON: "+err.Error())
		return
	}
	mch, openid := b.MchID, b.OpenID
	if b.SpMchID != "" {
		mch, openid = b.SpMchID, b.SubOpenID
	}
	if mch != c.merchant.MchID {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "mchid与请求签名的商户号不一致")
		return
	}
	if openid == "" || b.Amount == nil || b.Amount.Total == nil || *b.Amount.Total <= 0 {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "缺少openid或amount.total")
		return
	}
	s.mu.Lock()
	p := s.fenfuPayer(openid)
	resp := map[string]any{"fqf_exposure": p.Eligible, "credit_grade": p.Grade}
	if p.Eligible {
		tok := "MET" + randomHex(16)
		if s.exposureTokens == nil {
			s.exposureTokens = map[string]exposureToken{}
		}
		s.exposureTokens[tok] = exposureToken{mchID: mch, openID: openid, total: *b.Amount.Total, expires: s.now().Add(exposureTokenLife)}
		resp["market_exposure_token"] = tok
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, resp)
}

// honourExposureToken marks t 分付 when the JSAPI package carries a token
// the exposure call issued for this merchant, payer and amount (with s.mu
// held). A token for another payer, merchant or amount is refused.
func (s *Server) honourExposureToken(t *trade, token string) bool {
	e, ok := s.exposureTokens[token]
	payer := t.openID
	if t.partner {
		payer = t.subOpenID
	}
	if !ok || e.mchID != t.mchID || e.openID != payer || e.total != t.total || s.now().After(e.expires) || t.tradeType != "JSAPI" {
		return false
	}
	t.fenfu = true
	return true
}

// Fenfu reports whether the trade out_trade_no was paid (or is being paid) by 分付.
func (s *Server) Fenfu(outTradeNo string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trades {
		if t.outTradeNo == outTradeNo {
			return t.fenfu
		}
	}
	return false
}

var fenfuPage = template.Must(template.New("fenfu").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>分付曝光设置（沙箱）</title>
<style>body{font-family:-apple-system,"PingFang SC",sans-serif;max-width:640px;margin:24px auto;padding:0 16px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px;text-align:left}</style></head><body>
<h1>分付曝光设置（支付方式前置，沙箱）</h1>
<p>未设置的付款人：可展示分付，信用等级 B。</p>
<table id="payers"><tr><th>openid</th><th>信用等级</th><th>可展示分付</th></tr>
{{range .}}<tr><td>{{.OpenID}}</td><td>{{.Grade}}</td><td>{{if .Eligible}}是{{else}}否{{end}}</td></tr>{{end}}</table>
<h2>设置付款人</h2>
<form method="post" action="/sandbox/fenfu">
<p><label>openid <input name="openid" required></label></p>
<p><label>信用等级 <select name="grade"><option>A</option><option selected>B</option><option>C</option><option>D</option><option>E</option></select></label></p>
<p><label><input type="checkbox" name="eligible" value="1" checked> 可展示分付</label></p>
<p><button type="submit">保存</button></p></form>
<p class="tag">微信支付沙箱 · 非真实交易</p></body></html>`))

// handleFenfuPage shows and (POST) sets the per-payer exposure answers.
func (s *Server) handleFenfuPage(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil || strings.TrimSpace(r.PostForm.Get("openid")) == "" {
			http.Error(w, "需要 openid", http.StatusBadRequest)
			return
		}
		grade := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("grade")))
		if len(grade) != 1 || grade < "A" || grade > "E" {
			http.Error(w, "信用等级应为 A–E", http.StatusBadRequest)
			return
		}
		s.SetFenfuPayer(strings.TrimSpace(r.PostForm.Get("openid")), FenfuPayer{Grade: grade, Eligible: r.PostForm.Get("eligible") == "1"})
		http.Redirect(w, r, "/sandbox/fenfu", http.StatusSeeOther)
		return
	}
	type row struct {
		OpenID, Grade string
		Eligible      bool
	}
	s.mu.Lock()
	rows := make([]row, 0, len(s.fenfuPayers))
	for id, p := range s.fenfuPayers {
		rows = append(rows, row{id, p.Grade, p.Eligible})
	}
	s.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].OpenID < rows[j].OpenID })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = fenfuPage.Execute(w, rows)
}
