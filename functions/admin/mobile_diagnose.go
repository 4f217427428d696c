package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/web"
)

// 诊断 (M4): a manager whose customer cannot open the payment page finds out
// whose trouble it is. The server opens the code's payment page through the
// public route a customer's phone reaches (the deployment's PUBLIC_BASE_URL,
// never an address from the request) and times it; the page times loading
// the same URL from the manager's phone; the two results together give the
// advice of the seed.

// diagnoseTimeout bounds the server's fetch (the function's limit is 10 s).
const diagnoseTimeout = 8 * time.Second

// diagnoseUA is the User-Agent of the server's fetch: Alipay's in-app
// browser, which the payment page answers with its form (WeChat's would be
// sent to the OAuth round trip first), marked as ours.
const diagnoseUA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 AlipayClient/10.5.36 estatepay-diagnose/1"

// diagnoseMaxBody is as much of the page as the server reads.
const diagnoseMaxBody = 512 << 10

// Problems of a fetch of the payment page.
const (
	probeTimeout     = "timeout"      // no answer within diagnoseTimeout
	probeUnreachable = "unreachable"  // no connection
	probeServerError = "server_error" // 5xx, or an answer that is not a whole page
	probeCodeInvalid = "code_invalid" // the page says the code does not exist or has expired
)

// diagnosis is the server's side of 诊断 (GET /m/api/diagnose).
type diagnosis struct {
	URL     string `json:"url"`
	OK      bool   `json:"ok"`               // the page rendered
	Status  int    `json:"status,omitempty"` // the HTTP status it answered with
	Ms      int64  `json:"ms"`               // how long it took
	Problem string `json:"problem,omitempty"`
	Message string `json:"message"` // what happened, for people
	// Advice is what to do, for either result of the phone's own check
	// (keys phone_ok, phone_failed): the page shows the one that happened.
	Advice map[string]string `json:"advice"`
}

// mobileDiagnose is GET /m/api/diagnose?code=<id> (""/absent: the default
// code): the server's fetch of that code's payment page.
func (h *Handler) mobileDiagnose(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	code, err := h.codes(c).Code(ctx, c.p, strings.TrimSpace(c.req.QueryStringParameters["code"]))
	if err != nil {
		return h.mobileFail(ctx, c, err, "diagnose: manager code")
	}
	base := strings.TrimRight(h.PublicBaseURL, "/") + "/"
	if h.PublicBaseURL == "" || !strings.HasPrefix(code.URL, base) {
		h.Log.ErrorContext(ctx, "diagnose: code URL outside the public base URL", "url", code.URL)
		return web.Error(http.StatusInternalServerError, "internal", "收款码地址与系统配置不符，请联系管理员")
	}
	d := h.Mobile.probe(ctx, code.URL)
	d.Advice = map[string]string{"phone_ok": diagnoseAdvices[adviceKey(d, true)], "phone_failed": diagnoseAdvices[adviceKey(d, false)]}
	h.Log.InfoContext(ctx, "diagnose", "staff_id", c.p.StaffID, "ok", d.OK, "status", d.Status, "ms", d.Ms, "problem", d.Problem)
	return web.JSON(http.StatusOK, d)
}

// probe fetches u as a customer's phone does and says whether the payment
// page rendered, and how fast.
func (m Mobile) probe(ctx context.Context, u string) diagnosis {
	client := http.Client{Timeout: diagnoseTimeout}
	if m.Client != nil {
		client = *m.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d := diagnosis{URL: u}
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		d.Problem, d.Message = probeUnreachable, "收款码地址无效"
		return d
	}
	req.Header.Set("User-Agent", diagnoseUA)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Cache-Control", "no-cache")
	start := m.now()
	resp, err := client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, diagnoseMaxBody))
		resp.Body.Close()
	}
	d.Ms = m.now().Sub(start).Milliseconds()
	var ne interface{ Timeout() bool }
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()):
		d.Problem, d.Message = probeTimeout, fmt.Sprintf("服务器打开付款页面超时（超过 %d 秒）", int(diagnoseTimeout/time.Second))
	case err != nil:
		d.Problem, d.Message = probeUnreachable, "服务器无法连接付款页面"
	default:
		d.Status = resp.StatusCode
		d.OK, d.Problem, d.Message = pageRendered(resp.StatusCode, body, d.Ms)
	}
	return d
}

// pageRendered judges the payment page's answer: a whole page (or a
// redirect, the page sending the customer on) is fine; 404 and 410 say the
// code is gone; anything else is the server's trouble.
func pageRendered(status int, body []byte, ms int64) (ok bool, problem, msg string) {
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return false, probeCodeInvalid, "付款页面提示此收款码无效或已失效"
	case status >= 300 && status < 400:
		return true, "", fmt.Sprintf("付款页面正常（跳转授权，用时 %d 毫秒）", ms)
	case status != http.StatusOK:
		return false, probeServerError, fmt.Sprintf("付款页面出错（HTTP %d）", status)
	case !strings.Contains(strings.ToLower(string(body)), "</html>"):
		return false, probeServerError, "付款页面不完整"
	}
	return true, "", fmt.Sprintf("付款页面正常打开（用时 %d 毫秒）", ms)
}

// diagnoseAdvices are what the manager is told for each outcome (the seed's
// advice: the phone fine and the customer not → the customer's network;
// both failing → the administrator).
var diagnoseAdvices = map[string]string{
	"ok":      "本机和服务器都能正常打开付款页面。如果客户扫码后打不开，多半是客户手机的网络信号较差，请建议客户更换网络环境（例如 4G 与 Wi-Fi 互换）后再扫码。",
	"phone":   "服务器正常，但本机打不开付款页面：您的手机网络可能有问题，请更换网络环境（例如 4G 与 Wi-Fi 互换）后重新诊断。",
	"server":  "本机可以打开付款页面，但服务器检测失败，服务器可能存在异常，请联系后台管理员确认处理。",
	"both":    "本机和服务器都打不开付款页面，服务器可能存在异常，请联系后台管理员确认处理。",
	"invalid": "此收款码已失效或不存在，请返回收款码页面刷新后再试。",
}

// adviceKey chooses the advice: the server's problem, then who failed.
func adviceKey(server diagnosis, phoneOK bool) string {
	switch {
	case server.Problem == probeCodeInvalid:
		return "invalid"
	case server.OK && phoneOK:
		return "ok"
	case server.OK:
		return "phone"
	case phoneOK:
		return "server"
	}
	return "both"
}

type mobileDiagnoseBody struct {
	Code     ManagerCode
	Title    string
	PhoneMax int // seconds the phone waits
}

// mobileDiagnosePage is 诊断: it runs both checks when it opens (and again
// on 重新诊断) and shows the advice.
func (h *Handler) mobileDiagnosePage(ctx context.Context, c *call) web.Response {
	if r, ok := h.collector(c); !ok {
		return r
	}
	code, err := h.codes(c).Code(ctx, c.p, strings.TrimSpace(c.req.QueryStringParameters["code"]))
	if err != nil {
		return h.mobileFail(ctx, c, err, "diagnose page: manager code")
	}
	title := code.Code.Name
	if title == "" {
		title = "我的收款码"
	}
	return h.mobileRender(http.StatusOK, "m_diagnose.html", h.mobilePage(c, "诊断", "diagnose", "code",
		mobileDiagnoseBody{Code: code, Title: title, PhoneMax: int(diagnoseTimeout / time.Second)}))
}
