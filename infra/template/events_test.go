package template_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/template"
)

// Placeholders in events/*.json that a test (or a person) replaces with real values.
const (
	tokenPlaceholder = "DEMO-TOKEN-PLACEHOLDER-0000"
	adminPlaceholder = "SESSION-PLACEHOLDER" // the ep_session cookie of admin-payments.json
	unknownOrderID   = "EPAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

// sample is one events/*.json file, attributed to a function by its name:
// events/<CodeUri base>-<trigger>.json, or events/<CodeUri base>.json.
type sample struct {
	file     string
	raw      []byte
	function template.Function
	http     *events.APIGatewayV2HTTPRequest // nil for non-HTTP events
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the event")
	}
	return nil
}

func loadSamples(t *testing.T, tm *template.Template) []sample {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/*.json (%v)", err)
	}
	var out []sample
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		var fn *template.Function
		for _, f := range tm.Functions() {
			base := path.Base(f.CodeURI)
			if (name == base || strings.HasPrefix(name, base+"-")) && (fn == nil || len(base) > len(path.Base(fn.CodeURI))) {
				fn = &f
			}
		}
		if fn == nil {
			t.Errorf("%s: file name does not start with a function's CodeUri folder name", filepath.Base(file))
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Errorf("%s: not JSON", filepath.Base(file))
			continue
		}
		s := sample{file: filepath.Base(file), raw: b, function: *fn}
		var probe map[string]json.RawMessage
		if json.Unmarshal(b, &probe) == nil && probe["routeKey"] != nil {
			var req events.APIGatewayV2HTTPRequest
			if err := strictDecode(b, &req); err != nil {
				t.Errorf("%s: does not decode strictly into events.APIGatewayV2HTTPRequest: %v", s.file, err)
				continue
			}
			s.http = &req
		}
		out = append(out, s)
	}
	return out
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// checkHTTPEvent checks a payload 2.0 event is internally consistent with the
// route it claims, the way API Gateway fills it.
func checkHTTPEvent(t *testing.T, s sample, method, routePath string) {
	t.Helper()
	r := s.http
	if r.Version != "2.0" {
		t.Errorf("%s: version %q", s.file, r.Version)
	}
	if r.RequestContext.RouteKey != r.RouteKey || (method != "ANY" && r.RequestContext.HTTP.Method != method) {
		t.Errorf("%s: requestContext routeKey/method %q %q", s.file, r.RequestContext.RouteKey, r.RequestContext.HTTP.Method)
	}
	if r.RequestContext.HTTP.Path != r.RawPath {
		t.Errorf("%s: requestContext.http.path %q != rawPath %q", s.file, r.RequestContext.HTTP.Path, r.RawPath)
	}
	names := pathParam.FindAllStringSubmatch(routePath, -1)
	if len(names) != len(r.PathParameters) {
		t.Errorf("%s: pathParameters %v for route %s", s.file, r.PathParameters, routePath)
	}
	want := pathParam.ReplaceAllStringFunc(routePath, func(m string) string {
		name, greedy := strings.CutSuffix(m[1:len(m)-1], "+")
		if !greedy {
			return url.PathEscape(r.PathParameters[name])
		}
		// {proxy+}: the rest of the path, segment by segment.
		segs := strings.Split(r.PathParameters[name], "/")
		for i := range segs {
			segs[i] = url.PathEscape(segs[i])
		}
		return strings.Join(segs, "/")
	})
	if want != r.RawPath {
		t.Errorf("%s: rawPath %q does not match route %s with %v (%q)", s.file, r.RawPath, routePath, r.PathParameters, want)
	}
	q, err := url.ParseQuery(r.RawQueryString)
	if err != nil || len(q) != len(r.QueryStringParameters) {
		t.Errorf("%s: queryStringParameters %v vs rawQueryString %q", s.file, r.QueryStringParameters, r.RawQueryString)
	}
	for k, v := range q {
		if r.QueryStringParameters[k] != strings.Join(v, ",") {
			t.Errorf("%s: query %s = %q, raw has %q", s.file, k, r.QueryStringParameters[k], v)
		}
	}
	for k := range r.Headers {
		if k != strings.ToLower(k) || k == "cookie" {
			t.Errorf("%s: header %q (API Gateway lower-cases names and moves cookies to cookies[])", s.file, k)
		}
	}
	if r.Headers["host"] != r.RequestContext.DomainName || r.RequestContext.HTTP.UserAgent != r.Headers["user-agent"] {
		t.Errorf("%s: host/user-agent headers disagree with requestContext", s.file)
	}
	if r.RequestContext.HTTP.SourceIP == "" || r.RequestContext.RequestID == "" || r.RequestContext.TimeEpoch == 0 || r.RequestContext.Stage == "" {
		t.Errorf("%s: requestContext incomplete: %+v", s.file, r.RequestContext)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", r.RequestContext.Time); err != nil {
		t.Errorf("%s: requestContext.time: %v", s.file, err)
	}
	if r.Body != "" {
		body := []byte(r.Body)
		if r.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(r.Body); err != nil {
				t.Errorf("%s: body is not base64: %v", s.file, err)
			}
		}
		if cl := r.Headers["content-length"]; cl != "" && cl != fmt.Sprint(len(body)) {
			t.Errorf("%s: content-length %s, body has %d bytes", s.file, cl, len(body))
		}
		if r.Headers["content-type"] == "" {
			t.Errorf("%s: body without content-type", s.file)
		}
	}
}

func TestEventSamples(t *testing.T) {
	tm := loadProduct(t)
	samples := loadSamples(t, tm)
	covered := map[string]bool{} // "<LogicalID>.<EventName>"
	for _, s := range samples {
		f := s.function
		matched := false
		for _, e := range f.Events {
			switch e.Type {
			case "HttpApi":
				m, p := e.Route()
				if p == "/$default" { // SAM's catch-all: API Gateway reports routeKey "$default"
					if s.http != nil && s.http.RouteKey == "$default" && s.http.RequestContext.RouteKey == "$default" && s.http.RawPath == s.http.RequestContext.HTTP.Path {
						covered[f.LogicalID+"."+e.Name], matched = true, true
					}
					continue
				}
				if s.http != nil && s.http.RouteKey == m+" "+p {
					checkHTTPEvent(t, s, m, p)
					covered[f.LogicalID+"."+e.Name], matched = true, true
				}
			case "ScheduleV2", "Schedule":
				if s.http != nil {
					continue
				}
				if in, ok := e.Properties["Input"].(string); ok {
					var a, b any
					if json.Unmarshal([]byte(in), &a) == nil && json.Unmarshal(s.raw, &b) == nil && fmt.Sprint(a) == fmt.Sprint(b) {
						covered[f.LogicalID+"."+e.Name], matched = true, true
					}
					continue
				}
				var ev events.CloudWatchEvent
				if e.Type == "Schedule" && strictDecode(s.raw, &ev) == nil && ev.DetailType == "Scheduled Event" {
					covered[f.LogicalID+"."+e.Name], matched = true, true
				}
			case "DynamoDB":
				var ev events.DynamoDBEvent
				if s.http == nil && strictDecode(s.raw, &ev) == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:dynamodb" {
					covered[f.LogicalID+"."+e.Name], matched = true, true
				}
			case "SQS":
				var ev events.SQSEvent
				if s.http == nil && strictDecode(s.raw, &ev) == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs" {
					covered[f.LogicalID+"."+e.Name], matched = true, true
				}
			}
		}
		if !matched {
			what := "its payload"
			if s.http != nil {
				what = "routeKey " + s.http.RouteKey
			}
			t.Errorf("%s: %s matches no trigger of %s", s.file, what, f.LogicalID)
		}
	}
	var missing []string
	for _, f := range tm.Functions() {
		for _, e := range f.Events {
			if !covered[f.LogicalID+"."+e.Name] {
				missing = append(missing, f.LogicalID+"."+e.Name+" ("+e.Type+")")
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("triggers without a sample in events/: %v", missing)
	}
}

// invokeHTTP sends an events/ sample to a function of the running stack.
func invokeHTTP(t *testing.T, invoke func(context.Context, string, []byte) ([]byte, error), fn string, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := invoke(ctx, fn, payload)
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("invoke %s: not a payload 2.0 response (%v): %s", fn, err, out)
	}
	return resp
}

func readEvent(t *testing.T, name string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}

func TestEventSamplesInvokeFunctions(t *testing.T) {
	s := stacktest.Start(t)
	var both string
	for _, c := range s.Demo.Communities {
		if c.ID == "demo-both" {
			both = c.Token
		}
	}
	if both == "" {
		t.Fatalf("no demo-both community: %+v", s.Demo)
	}
	withToken := []string{tokenPlaceholder, both}

	t.Run("landing-healthz", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-healthz.json"))
		if r.StatusCode != 200 || !strings.Contains(r.Body, `"ok"`) {
			t.Errorf("healthz: %d %s", r.StatusCode, r.Body)
		}
	})
	t.Run("landing-get-code", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-get-code.json", withToken...))
		if r.StatusCode != 200 || !strings.Contains(r.Headers["Content-Type"]+r.Headers["content-type"], "text/html") || !strings.Contains(r.Body, "阳光花园") {
			t.Errorf("landing (Alipay UA, demo-both): %d %v %.300s", r.StatusCode, r.Headers, r.Body)
		}
		// As stored, the sample's token is well-formed but unknown.
		r = invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-get-code.json"))
		if r.StatusCode != 404 {
			t.Errorf("landing with the placeholder token: %d, want 404", r.StatusCode)
		}
	})
	t.Run("landing-result", func(t *testing.T) {
		// The sample names an order that does not exist: a Chinese 404 page.
		r := invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-result.json", withToken...))
		if r.StatusCode != 404 || !strings.Contains(r.Body, "未找到该订单") || strings.Contains(r.Body, "data-order") {
			t.Errorf("result page for an unknown order: %d %.300s", r.StatusCode, r.Body)
		}
	})
	t.Run("landing-notice", func(t *testing.T) {
		// The samples name a notice that does not exist: Chinese 404 pages.
		r := invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-notice.json"))
		if r.StatusCode != 404 || !strings.Contains(r.Body, "缴费通知单无效") {
			t.Errorf("unknown notice: %d %.300s", r.StatusCode, r.Body)
		}
		r = invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-notice-result.json"))
		if r.StatusCode != 404 || !strings.Contains(r.Body, "缴费通知单无效") {
			t.Errorf("receipt of an unknown notice: %d %.300s", r.StatusCode, r.Body)
		}
	})
	t.Run("wechat-notify-refund", func(t *testing.T) {
		// The sample's signature is not the sandbox platform key's: rejected, nothing changes.
		r := invokeHTTP(t, s.Invoke, "WechatNotifyFunction", readEvent(t, "wechat-notify-refund.json"))
		if r.StatusCode != 400 || !strings.Contains(r.Body, "FAIL") {
			t.Errorf("forged refund notification: %d %s", r.StatusCode, r.Body)
		}
	})
	t.Run("landing-history", func(t *testing.T) {
		// The sample's payer cookie is no signed identity: Alipay's auth_base first, never a list.
		r := invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-history.json", withToken...))
		if r.StatusCode != 302 || !strings.Contains(r.Headers["Location"], "/oauth2/publicAppAuthorize.htm?") || !strings.Contains(r.Headers["Location"], "scope=auth_base") {
			t.Errorf("history with a forged identity: %d %v", r.StatusCode, r.Headers)
		}
		r = invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-notice-history.json"))
		if r.StatusCode != 404 || !strings.Contains(r.Body, "缴费通知单无效") {
			t.Errorf("history of an unknown notice: %d %.300s", r.StatusCode, r.Body)
		}
	})
	t.Run("landing-not-found", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "LandingFunction", readEvent(t, "landing-not-found.json"))
		if r.StatusCode != 404 || !strings.Contains(r.Headers["Content-Type"], "text/html") || !strings.Contains(r.Body, "页面不存在") {
			t.Errorf("$default from a browser: %d %v %.300s", r.StatusCode, r.Headers, r.Body)
		}
	})
	var orderID string
	t.Run("orders-create", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "OrdersFunction", readEvent(t, "orders-create.json", withToken...))
		var v struct {
			OrderID   string          `json:"order_id"`
			Status    string          `json:"status"`
			AmountFen int64           `json:"amount_fen"`
			Channel   string          `json:"channel"`
			Pay       json.RawMessage `json:"pay"`
		}
		if r.StatusCode != 201 || json.Unmarshal([]byte(r.Body), &v) != nil || v.AmountFen != 12345 || v.Channel != "alipay" || len(v.Pay) == 0 {
			t.Fatalf("create: %d %s", r.StatusCode, r.Body)
		}
		orderID = v.OrderID
		// Same Idempotency-Key, same body: the same order, 200.
		r = invokeHTTP(t, s.Invoke, "OrdersFunction", readEvent(t, "orders-create.json", withToken...))
		if r.StatusCode != 200 || !strings.Contains(r.Body, orderID) {
			t.Errorf("idempotent replay: %d %s", r.StatusCode, r.Body)
		}
		// As stored: unknown code.
		r = invokeHTTP(t, s.Invoke, "OrdersFunction", readEvent(t, "orders-create.json", "3f0c7a52", "00000000"))
		if r.StatusCode != 404 {
			t.Errorf("create with the placeholder token: %d %s, want 404", r.StatusCode, r.Body)
		}
	})
	t.Run("orders-status", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "OrdersFunction", readEvent(t, "orders-status.json"))
		if r.StatusCode != 404 || !strings.Contains(r.Body, "not_found") {
			t.Errorf("unknown order: %d %s", r.StatusCode, r.Body)
		}
		if orderID == "" {
			t.Fatal("no order was created (see orders-create)")
		}
		r = invokeHTTP(t, s.Invoke, "OrdersFunction", readEvent(t, "orders-status.json", unknownOrderID, orderID))
		if r.StatusCode != 200 || !strings.Contains(r.Body, `"status":"PENDING"`) {
			t.Errorf("created order: %d %s", r.StatusCode, r.Body)
		}
	})
	t.Run("wechat-notify", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "WechatNotifyFunction", readEvent(t, "wechat-notify.json"))
		var body struct{ Code, Message string }
		if r.StatusCode != 400 || json.Unmarshal([]byte(r.Body), &body) != nil || body.Code != "FAIL" {
			t.Errorf("forged WeChat callback: %d %s, want 400 FAIL", r.StatusCode, r.Body)
		}
	})
	t.Run("alipay-notify", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "AlipayNotifyFunction", readEvent(t, "alipay-notify.json"))
		if r.StatusCode == 200 || r.Body != "fail" {
			t.Errorf("forged Alipay notify: %d %q, want fail", r.StatusCode, r.Body)
		}
	})
	t.Run("admin-payments", func(t *testing.T) {
		r := invokeHTTP(t, s.Invoke, "AdminFunction", readEvent(t, "admin-payments.json"))
		if r.StatusCode != 401 {
			t.Errorf("placeholder session: %d %s, want 401", r.StatusCode, r.Body)
		}
		// The answer with a real session is in functions/admin's tests; here
		// the sample reaches the function through its route pair and the
		// session check answers.
		var e struct{ Error struct{ Code string } }
		if json.Unmarshal([]byte(r.Body), &e) != nil || (e.Error.Code != "session_expired" && e.Error.Code != "unauthorized") {
			t.Errorf("placeholder session: %s, want a session error", r.Body)
		}
	})
	t.Run("admin-mobile-api", func(t *testing.T) {
		// The managers' code API (/m/api/code) answers a placeholder session with 401 JSON.
		r := invokeHTTP(t, s.Invoke, "AdminFunction", readEvent(t, "admin-mobile-api.json"))
		var e struct{ Error struct{ Code string } }
		if r.StatusCode != 401 || json.Unmarshal([]byte(r.Body), &e) != nil || (e.Error.Code != "session_expired" && e.Error.Code != "unauthorized") {
			t.Errorf("managers' code API with a placeholder session: %d %s", r.StatusCode, r.Body)
		}
	})
	t.Run("admin-console", func(t *testing.T) {
		// A browser without a session goes to the login page.
		r := invokeHTTP(t, s.Invoke, "AdminFunction", readEvent(t, "admin-console.json"))
		if r.StatusCode != 302 || r.Headers["Location"] != "/admin/login?next=%2Fadmin" {
			t.Errorf("console without a session: %d %v", r.StatusCode, r.Headers)
		}
	})
	t.Run("admin-remind-bind", func(t *testing.T) {
		// A resident's 微信接收缴费提醒 in WeChat, public: a notice unknown
		// here is refused before any OAuth round trip.
		r := invokeHTTP(t, s.Invoke, "AdminFunction", readEvent(t, "admin-remind-bind.json"))
		if r.StatusCode != 404 || !strings.Contains(r.Body, "缴费通知单无效") {
			t.Errorf("remind bind of an unknown notice: %d %.300s", r.StatusCode, r.Body)
		}
	})
	t.Run("admin-mobile", func(t *testing.T) {
		// The managers' app (/m and /m/{proxy+}): its own login page; its
		// API answers a placeholder session with 401 JSON.
		r := invokeHTTP(t, s.Invoke, "AdminFunction", readEvent(t, "admin-mobile.json"))
		if r.StatusCode != 302 || r.Headers["Location"] != "/m/login?next=%2Fm" {
			t.Errorf("managers' app without a session: %d %v", r.StatusCode, r.Headers)
		}
		r = invokeHTTP(t, s.Invoke, "AdminFunction", readEvent(t, "admin-mobile-settings.json"))
		var e struct{ Error struct{ Code string } }
		if r.StatusCode != 401 || json.Unmarshal([]byte(r.Body), &e) != nil || (e.Error.Code != "session_expired" && e.Error.Code != "unauthorized") {
			t.Errorf("managers' API with a placeholder session: %d %s", r.StatusCode, r.Body)
		}
	})
	t.Run("sweeper-schedule", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := s.Invoke(ctx, "SweeperFunction", readEvent(t, "sweeper-schedule.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep map[string]any
		if err := strictDecode(out, &rep); err != nil {
			t.Fatalf("sweeper report %s: %v", out, err)
		}
		for _, k := range []string{"Examined", "Paid", "Refunded", "Closed", "Postponed", "Failed", "Stopped"} {
			if _, ok := rep[k]; !ok {
				t.Errorf("sweeper report %s lacks %s", out, k)
			}
		}
		if rep["Failed"] != float64(0) {
			t.Errorf("sweeper failed: %s", out)
		}
	})
}
