package wechat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"
)

var (
	outTradeNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-*|]{6,32}$`)
	timeExpireRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$`)
)

// prepayBody is the union of the direct and partner prepay request bodies.
type prepayBody struct {
	AppID       string `json:"appid"`
	MchID       string `json:"mchid"`
	SpAppID     string `json:"sp_appid"`
	SpMchID     string `json:"sp_mchid"`
	SubAppID    string `json:"sub_appid"`
	SubMchID    string `json:"sub_mchid"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire"`
	Attach      string `json:"attach"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

func (s *Server) handlePrepay(partner bool, tradeType string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		var b prepayBody
		if err := json.Unmarshal(c.body, &b); err != nil {
			s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON: "+err.Error())
			return
		}
		t, status, code, msg := s.validatePrepay(c.merchant, partner, tradeType, &b)
		if t == nil {
			s.writeError(w, status, code, msg)
			return
		}
		s.mu.Lock()
		now := s.now()
		if old := s.trades[t.key()]; old != nil {
			old.expireIfDue(now)
			resp, status, code, msg := duplicatePrepay(old, t)
			s.mu.Unlock()
			if resp == nil {
				s.writeError(w, status, code, msg)
				return
			}
			s.writeJSON(w, http.StatusOK, resp)
			return
		}
		t.state = StateNotPay
		t.created = now
		t.prepayID = s.newPrepayID(now)
		if tradeType == "NATIVE" {
			t.codeURL = "weixin://wxpay/bizpayurl?pr=" + randomHex(5)
		}
		s.trades[t.key()] = t
		s.byPrepay[t.prepayID] = t
		s.mu.Unlock()
		s.log.Info("trade created", "out_trade_no", t.outTradeNo, "mchid", t.mchID, "sub_mchid", t.subMchID, "total", t.total)
		s.writeJSON(w, http.StatusOK, prepayResponse(t))
	}
}

func prepayResponse(t *trade) map[string]string {
	if t.tradeType == "NATIVE" {
		return map[string]string{"code_url": t.codeURL}
	}
	return map[string]string{"prepay_id": t.prepayID}
}

// duplicatePrepay answers a second prepay for an existing out_trade_no.
func duplicatePrepay(old, t *trade) (map[string]string, int, string, string) {
	switch old.state {
	case StateSuccess, StateRefund:
		return nil, http.StatusBadRequest, "ORDERPAID", "该订单已支付"
	case StateClosed:
		return nil, http.StatusBadRequest, "ORDER_CLOSED", "订单已关闭"
	}
	if old.fingerprint != t.fingerprint {
		return nil, http.StatusBadRequest, "INVALID_REQUEST", "201 商户订单号重复"
	}
	return prepayResponse(old), 0, "", ""
}

// validatePrepay checks the body like WeChat does and builds the trade.
func (s *Server) validatePrepay(m *Merchant, partner bool, tradeType string, b *prepayBody) (*trade, int, string, string) {
	bad := func(msg string) (*trade, int, string, string) {
		return nil, http.StatusBadRequest, "PARAM_ERROR", msg
	}
	t := &trade{partner: partner, tradeType: tradeType}
	if partner {
		if b.SpAppID == "" || b.SpMchID == "" || b.SubMchID == "" {
			return bad("输入源“/body/sp_appid, sp_mchid, sub_mchid”映射到字段失败：缺少必填参数")
		}
		if b.SpMchID != m.MchID {
			return bad("sp_mchid与请求头中的商户号不一致")
		}
		if !slices.Contains(m.SubMchIDs, b.SubMchID) {
			return nil, http.StatusBadRequest, "INVALID_REQUEST", "sub_mchid与sp_mchid不存在受理关系"
		}
		if b.SubAppID != "" && len(m.SubAppIDs) > 0 && !slices.Contains(m.SubAppIDs, b.SubAppID) {
			return nil, http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "sub_appid和sub_mchid不匹配"
		}
		t.appID, t.mchID, t.subAppID, t.subMchID = b.SpAppID, b.SpMchID, b.SubAppID, b.SubMchID
	} else {
		if b.AppID == "" || b.MchID == "" {
			return bad("输入源“/body/appid, mchid”映射到字段失败：缺少必填参数")
		}
		if b.MchID != m.MchID {
			return bad("mchid与请求头中的商户号不一致")
		}
		t.appID, t.mchID = b.AppID, b.MchID
	}
	if !slices.Contains(m.AppIDs, t.appID) {
		return nil, http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"
	}
	if n := len([]rune(b.Description)); n == 0 || n > 127 {
		return bad("description长度必须在1到127个字符之间")
	}
	if !outTradeNoRe.MatchString(b.OutTradeNo) {
		return bad("out_trade_no格式错误：6-32个字符，只能是数字、大小写字母_-|*")
	}
	u, err := url.Parse(b.NotifyURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return bad("notify_url格式错误：必须是不带参数的http(s)绝对地址")
	}
	if b.Amount == nil || b.Amount.Total == nil || *b.Amount.Total <= 0 {
		return bad("amount.total必须是大于0的整数（单位：分）")
	}
	if b.Amount.Currency != "" && b.Amount.Currency != "CNY" {
		return bad("amount.currency只支持CNY")
	}
	t.total = *b.Amount.Total
	if b.TimeExpire != "" {
		if !timeExpireRe.MatchString(b.TimeExpire) {
			return bad("time_expire格式错误，应为yyyy-MM-DDTHH:mm:ss+TIMEZONE")
		}
		exp, err := time.Parse(time.RFC3339, b.TimeExpire)
		if err != nil {
			return bad("time_expire格式错误")
		}
		if !exp.After(s.now()) {
			return bad("time_expire已过期")
		}
		t.expire = exp
	}
	if tradeType == "JSAPI" {
		if b.Payer == nil {
			return bad("输入源“/body/payer”映射到字段失败：缺少必填参数")
		}
		if partner {
			if b.Payer.SubOpenID != "" && b.SubAppID == "" {
				return bad("传入sub_openid时必须传入sub_appid")
			}
			if b.Payer.SpOpenID == "" && b.Payer.SubOpenID == "" {
				return bad("sp_openid和sub_openid不能同时为空")
			}
			t.spOpenID, t.subOpenID = b.Payer.SpOpenID, b.Payer.SubOpenID
		} else {
			if b.Payer.OpenID == "" {
				return bad("payer.openid不能为空")
			}
			t.openID = b.Payer.OpenID
		}
		if msg := s.checkOpenID(t); msg != "" {
			return bad(msg)
		}
	}
	t.outTradeNo, t.desc, t.attach, t.notifyURL = b.OutTradeNo, b.Description, b.Attach, b.NotifyURL
	t.fingerprint = fmt.Sprintf("%s|%s|%s|%d|%s|%s|%s|%s|%s|%s", t.appID, t.subAppID, t.desc, t.total,
		t.notifyURL, t.openID, t.spOpenID, t.subOpenID, b.TimeExpire, t.attach)
	return t, 0, "", ""
}

// checkOpenID rejects an openid that this sandbox issued for a different appid.
func (s *Server) checkOpenID(t *trade) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	check := func(openid, appid string) bool {
		issued, ok := s.openids[openid]
		return !ok || issued == appid
	}
	if !check(t.openID, t.appID) || !check(t.spOpenID, t.appID) || !check(t.subOpenID, t.subAppID) {
		return "openid和appid不匹配"
	}
	return ""
}
