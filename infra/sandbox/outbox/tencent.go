package outbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/notify/tencentsms"
)

// Tencent Cloud API 3.0 answers HTTP 200 with either the action's result or
// Response.Error; RequestId is in both.
type tcError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

type tcSendStatus struct {
	SerialNo       string `json:"SerialNo"`
	PhoneNumber    string `json:"PhoneNumber"`
	Fee            int    `json:"Fee"`
	SessionContext string `json:"SessionContext"`
	Code           string `json:"Code"`
	Message        string `json:"Message"`
	IsoCode        string `json:"IsoCode"`
}

type tcSendSms struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppID      string   `json:"SmsSdkAppId"`
	SignName         string   `json:"SignName"`
	TemplateID       string   `json:"TemplateId"`
	TemplateParamSet []string `json:"TemplateParamSet"`
	SessionContext   string   `json:"SessionContext"`
}

func tcReply(w http.ResponseWriter, body map[string]any) {
	body["RequestId"] = uuid()
	writeJSON(w, http.StatusOK, map[string]any{"Response": body})
}

func tcFail(w http.ResponseWriter, code, msg string) {
	tcReply(w, map[string]any{"Error": tcError{Code: code, Message: msg}})
}

// smsRegions are the regions SMS 2021-01-11 is served in.
var smsRegions = map[string]bool{"ap-guangzhou": true, "ap-beijing": true, "ap-nanjing": true}

// mainlandMobile is +86 and an 11-digit mobile number.
var mainlandMobile = regexp.MustCompile(`^\+861[3-9][0-9]{9}$`)

// handleTencent is the API 3.0 endpoint: SendSms only.
func (s *Server) handleTencent(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		tcFail(w, "InvalidParameter", "请求体读取失败")
		return
	}
	if code, msg := s.verifyTC3(r, body); code != "" {
		tcFail(w, code, msg)
		return
	}
	switch {
	case r.Header.Get("X-TC-Action") != tencentsms.Action:
		tcFail(w, "InvalidAction", fmt.Sprintf("接口 %q 不存在（沙箱只实现 SendSms）", r.Header.Get("X-TC-Action")))
		return
	case r.Header.Get("X-TC-Version") != tencentsms.Version:
		tcFail(w, "NoSuchVersion", fmt.Sprintf("接口版本 %q 不存在（SendSms 为 %s）", r.Header.Get("X-TC-Version"), tencentsms.Version))
		return
	case !smsRegions[r.Header.Get("X-TC-Region")]:
		tcFail(w, "UnsupportedRegion", fmt.Sprintf("地域 %q 不支持短信", r.Header.Get("X-TC-Region")))
		return
	}
	var req tcSendSms
	if err := json.Unmarshal(body, &req); err != nil {
		tcFail(w, "InvalidParameter", "请求体不是合法的 JSON："+err.Error())
		return
	}
	cfg := s.cfg.SMS
	switch {
	case req.SmsSdkAppID != cfg.SdkAppID:
		tcFail(w, "InvalidParameterValue.SdkAppIdNotExist", "SdkAppId 不存在")
		return
	case req.SignName != cfg.SignName:
		tcFail(w, "FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误")
		return
	case len(req.PhoneNumberSet) == 0:
		tcFail(w, "MissingParameter", "缺少参数 PhoneNumberSet")
		return
	case len(req.PhoneNumberSet) > 200:
		tcFail(w, "LimitExceeded.PhoneNumberCountLimit", "单次请求的手机号数量超过 200")
		return
	}
	text, known := cfg.Templates[req.TemplateID]
	if len(cfg.Templates) > 0 {
		if !known {
			tcFail(w, "FailedOperation.TemplateIncorrectOrUnapproved", "模板未审批或内容不匹配")
			return
		}
		if n := placeholders(text); n != len(req.TemplateParamSet) {
			tcFail(w, "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
				fmt.Sprintf("模板参数个数 %d 与审批模板的变量个数 %d 不一致", len(req.TemplateParamSet), n))
			return
		}
	}
	var statuses []tcSendStatus
	for _, phone := range req.PhoneNumberSet {
		st := tcSendStatus{SerialNo: "", PhoneNumber: phone, SessionContext: req.SessionContext, IsoCode: "CN"}
		switch {
		case !mainlandMobile.MatchString(phone):
			st.Code, st.Message, st.IsoCode = "InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误", ""
		case cfg.DailyLimitPerPhone > 0 && s.sentToday(phone) >= cfg.DailyLimitPerPhone:
			st.Code, st.Message = "LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发短信条数超过设定的上限"
		default:
			m := Message{Channel: "sms", To: phone, From: req.SignName, Template: req.TemplateID, Params: req.TemplateParamSet}
			if known {
				m.Body = "【" + req.SignName + "】" + fill(text, req.TemplateParamSet)
			}
			if _, err := s.add(m); err != nil {
				s.log.Error("outbox: record SMS", "err", err)
				st.Code, st.Message = "InternalError.OtherError", "沙箱记录短信失败"
				break
			}
			st.SerialNo, st.Fee, st.Code, st.Message = "2433:"+randomHex(10), 1, "Ok", "send success"
		}
		statuses = append(statuses, st)
	}
	tcReply(w, map[string]any{"SendStatusSet": statuses})
}

// verifyTC3 checks the request's TC3-HMAC-SHA256 signature; it returns the
// API's error code and message, or "" when the signature holds.
func (s *Server) verifyTC3(r *http.Request, body []byte) (code, msg string) {
	auth, err := tencentsms.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "AuthFailure.InvalidAuthorization", "Authorization 不符合腾讯云 TC3-HMAC-SHA256 标准：" + err.Error()
	}
	if auth.SecretID != s.cfg.SMS.SecretID {
		return "AuthFailure.SecretIdNotFound", "密钥不存在"
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return "InvalidParameter", "X-TC-Timestamp 不是整数"
	}
	if d := s.cfg.Now().Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "AuthFailure.SignatureExpire", "签名过期：X-TC-Timestamp 与服务器时间相差超过 5 分钟"
	}
	signed := tencentsms.Signed{Method: r.Method, Path: "/", RawQuery: r.URL.RawQuery, Payload: body, Service: auth.Service,
		Timestamp: ts, Headers: map[string]string{}}
	for _, h := range auth.SignedHeaders {
		if h == "host" {
			signed.Headers[h] = r.Host
		} else {
			signed.Headers[h] = r.Header.Get(h)
		}
	}
	switch {
	case signed.Headers["host"] == "" || signed.Headers["content-type"] == "":
		return "AuthFailure.InvalidAuthorization", "SignedHeaders 必须包含 content-type 和 host"
	case !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json"):
		return "InvalidParameter", "POST 请求的 Content-Type 须为 application/json"
	case auth.Service != tencentsms.Service:
		return "AuthFailure.SignatureFailure", fmt.Sprintf("凭证范围的服务 %q 不是 sms", auth.Service)
	case auth.Date != signed.Date():
		return "AuthFailure.SignatureFailure", "凭证范围的日期与 X-TC-Timestamp 的 UTC 日期不一致"
	case !signed.Verify(s.cfg.SMS.SecretKey, auth.Signature):
		return "AuthFailure.SignatureFailure", "请求签名验证失败，请检查您的签名计算是否正确"
	}
	return "", ""
}

var placeholder = regexp.MustCompile(`\{([1-9][0-9]*)\}`)

// placeholders counts the distinct {n} variables of a template.
func placeholders(text string) int {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// fill replaces {n} with the n-th parameter.
func fill(text string, params []string) string {
	return placeholder.ReplaceAllStringFunc(text, func(p string) string {
		n, _ := strconv.Atoi(p[1 : len(p)-1])
		if n <= len(params) {
			return params[n-1]
		}
		return p
	})
}

func uuid() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
