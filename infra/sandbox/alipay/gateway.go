package alipay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiError is an Alipay gateway error (code/msg/sub_code/sub_msg).
type apiError struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
	// unsigned errors are returned without a sign, as Alipay does when it
	// cannot authenticate the caller.
	unsigned bool
}

func missing(sub, msg string) *apiError {
	return &apiError{Code: "40001", Msg: "Missing Required Arguments", SubCode: sub, SubMsg: msg}
}
func invalid(sub, msg string) *apiError {
	return &apiError{Code: "40002", Msg: "Invalid Arguments", SubCode: sub, SubMsg: msg}
}
func business(sub, msg string) *apiError {
	return &apiError{Code: "40004", Msg: "Business Failed", SubCode: sub, SubMsg: msg}
}

var errTradeNotExist = business("ACQ.TRADE_NOT_EXIST", "交易不存在")

// call is one authenticated gateway request.
type call struct {
	method string
	form   url.Values
	app    App
	biz    map[string]json.RawMessage
	now    time.Time
}

// bizStrings reads a biz_content array of strings (nil if absent or not one).
func (c *call) bizStrings(key string) []string {
	var out []string
	if raw, ok := c.biz[key]; ok && json.Unmarshal(raw, &out) == nil {
		return out
	}
	return nil
}

func (c *call) bizString(key string) string {
	raw, ok := c.biz[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.Trim(string(raw), `"`)
}

func (s *Server) handleGateway(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	method := r.Form.Get("method")
	c, apiErr := s.authenticate(r.Form)
	if method == "alipay.trade.wap.pay" {
		if apiErr != nil {
			s.renderError(w, http.StatusOK, apiErr)
			return
		}
		s.handleWapPay(w, r, c)
		return
	}
	if apiErr != nil {
		s.writeResponse(w, method, apiErr)
		return
	}
	var resp any
	switch method {
	case "alipay.trade.query":
		resp = s.tradeQuery(c)
	case "alipay.trade.close":
		resp = s.tradeClose(c)
	case "alipay.trade.refund":
		resp = s.tradeRefund(c)
	case "alipay.trade.fastpay.refund.query":
		resp = s.refundQuery(c)
	case "alipay.data.dataservice.bill.downloadurl.query":
		resp = s.billURLQuery(c, s.base(r))
	case methodTokenQuery:
		resp = tokenQuery(c)
	case methodOAuthToken:
		resp = s.oauthToken(c)
	default:
		resp = invalid("isv.invalid-method", "不存在的方法名")
	}
	s.writeResponse(w, method, resp)
}

// authenticate checks the common parameters, the app, its RSA2 signature and
// the ISV app_auth_token, in Alipay's order.
func (s *Server) authenticate(form url.Values) (*call, *apiError) {
	unsigned := func(e *apiError) *apiError { e.unsigned = true; return e }
	switch {
	case form.Get("app_id") == "":
		return nil, unsigned(missing("isv.missing-app-id", "缺少AppID参数"))
	case form.Get("method") == "":
		return nil, unsigned(missing("isv.missing-method", "缺少方法名参数"))
	case form.Get("sign") == "":
		return nil, unsigned(missing("isv.missing-signature", "缺少签名参数"))
	case form.Get("sign_type") == "":
		return nil, unsigned(missing("isv.missing-signature-type", "缺少签名类型参数"))
	case form.Get("sign_type") != "RSA2":
		return nil, unsigned(invalid("isv.invalid-signature-type", "无效的签名类型"))
	case form.Get("charset") != "" && !strings.EqualFold(form.Get("charset"), "utf-8"):
		return nil, unsigned(invalid("isv.invalid-charset", "字符集错误"))
	}
	var candidates []App
	for _, a := range s.cfg.Apps {
		if a.AppID == form.Get("app_id") {
			candidates = append(candidates, a)
		}
	}
	if len(candidates) == 0 {
		return nil, unsigned(invalid("isv.invalid-app-id", "无效的AppID参数"))
	}
	// Only an app whose key verifies the request may be acted for: a request
	// signed with one app's key must not pick another's app_auth_token.
	verified := candidates[:0]
	for _, a := range candidates {
		if verifyRequest(a.PublicKey, form) == nil {
			verified = append(verified, a)
		}
	}
	candidates = verified
	if len(candidates) == 0 {
		return nil, unsigned(invalid("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"))
	}
	ts := form.Get("timestamp")
	if ts == "" {
		return nil, missing("isv.missing-timestamp", "缺少时间戳参数")
	}
	if _, err := time.ParseInLocation(timeLayout, ts, cst); err != nil {
		return nil, invalid("isv.invalid-timestamp", "非法的时间戳参数")
	}
	token := form.Get("app_auth_token")
	if form.Get("method") == methodTokenQuery && token == "" {
		// The ISV asks about one of its tokens: it names it in biz_content.
		var biz struct {
			Token string `json:"app_auth_token"`
		}
		if json.Unmarshal([]byte(form.Get("biz_content")), &biz) != nil || biz.Token == "" {
			return nil, missing("isv.missing-parameter", "缺少必选参数 app_auth_token")
		}
		token = biz.Token
	}
	var app *App
	for i, a := range candidates {
		if token == "" && len(a.AuthTokens) == 0 {
			app = &candidates[i]
			break
		}
		for _, t := range a.AuthTokens {
			if token != "" && t == token {
				app = &candidates[i]
			}
		}
		if app != nil {
			break
		}
	}
	if app == nil {
		return nil, &apiError{Code: "20001", Msg: "Insufficient Token Permissions", SubCode: "aop.invalid-app-auth-token", SubMsg: "无效的应用授权令牌"}
	}
	c := &call{method: form.Get("method"), form: form, app: *app, biz: map[string]json.RawMessage{}, now: s.now()}
	if bc := form.Get("biz_content"); bc != "" {
		if err := json.Unmarshal([]byte(bc), &c.biz); err != nil {
			return nil, invalid("isv.invalid-parameter", "biz_content 不是合法的 JSON 对象")
		}
	}
	return c, nil
}

// writeResponse writes {"<method>_response":{...},"sign":"..."} where sign is
// RSA2 over exactly the bytes of the response object, which is what the SDK
// verifies.
func (s *Server) writeResponse(w http.ResponseWriter, method string, resp any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	body := bytes.TrimRight(buf.Bytes(), "\n")
	field := "error_response"
	if method != "" {
		field = strings.ReplaceAll(method, ".", "_") + "_response"
	}
	fieldJSON, _ := json.Marshal(field)
	var out bytes.Buffer
	out.WriteByte('{')
	out.Write(fieldJSON)
	out.WriteByte(':')
	out.Write(body)
	if e, ok := resp.(*apiError); !ok || !e.unsigned {
		sig, err := signRSA2(s.cfg.AlipayKey, body)
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		out.WriteString(`,"sign":"` + sig + `"`)
	}
	out.WriteByte('}')
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write(out.Bytes())
}
