package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/local/stack"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain"
)

// AlipayUserAgent is the Alipay app's in-app browser (iOS).
const AlipayUserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 AlipayClient/10.5.90.8000 Language/zh-Hans"

const amountFen = 12345

// fixtures are what the representative requests need.
type fixtures struct {
	tokenBoth       string // demo-both: WeChat + Alipay
	communityID     string
	payerCookie     string            // a WeChat payer: the signed ep_payer cookie from the OAuth round trip
	paid            map[string]string // channel -> a paid order id
	alipayNotifyURL string
	relayEvent      []byte // the stream event of the Alipay order's PAID write
	statsEvent      []byte // events/stats-events.json: an SQS batch for StatsFunction
	announceEvent   []byte // events/announce-events.json: an SQS batch for AnnounceFunction (收款播报)
	consoleCookie   string // the demo company admin's console session (ep_session=…), signed in once
}

type orderView struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Pay     *struct {
		JSAPI       map[string]string `json:"jsapi"`
		RedirectURL string            `json:"redirect_url"`
	} `json:"pay"`
}

func (b *bench) fixtures(ctx context.Context) error {
	var err error
	if b.fx.consoleCookie, err = b.consoleLogin(ctx); err != nil {
		return fmt.Errorf("console login: %w", err)
	}
	if b.fx.payerCookie, err = b.wechatLanding(ctx, newJar()); err != nil {
		return fmt.Errorf("wechat landing: %w", err)
	}
	b.fx.paid = map[string]string{}
	for _, ch := range []domain.Channel{domain.Alipay, domain.WeChat} {
		o, err := b.createOrder(ctx, ch)
		if err != nil {
			return err
		}
		if ch == domain.Alipay {
			u, err := url.Parse(o.Pay.RedirectURL)
			if err != nil {
				return err
			}
			if b.fx.alipayNotifyURL = u.Query().Get("notify_url"); b.fx.alipayNotifyURL == "" {
				return fmt.Errorf("alipay redirect_url has no notify_url: %s", o.Pay.RedirectURL)
			}
		}
		if _, err := b.payFresh(ctx, ch, o); err != nil {
			return err
		}
		b.fx.paid[string(ch)] = o.OrderID
	}
	rec, err := b.streamRecordOf(b.fx.paid["alipay"], "PAID")
	if err != nil {
		return err
	}
	if b.fx.relayEvent, err = b.streamEvent(rec); err != nil {
		return err
	}
	b.fx.statsEvent, err = os.ReadFile(filepath.Join(b.root, "events", "stats-events.json"))
	if err != nil {
		return err
	}
	b.fx.announceEvent, err = os.ReadFile(filepath.Join(b.root, "events", "announce-events.json"))
	return err
}

// consoleLogin signs in to the console as the demo company's admin through
// POST /admin/api/session and returns the session cookie (ep_session=…) the
// console requests send; the reads measured need no CSRF token.
func (b *bench) consoleLogin(ctx context.Context) (string, error) {
	var acct *stack.DemoAccount
	for i, a := range b.s.Demo.Accounts {
		if a.Role == "admin" && a.CompanyID == b.s.Demo.CompanyID {
			acct = &b.s.Demo.Accounts[i]
		}
	}
	if acct == nil {
		return "", errors.New("no demo admin account")
	}
	body, _ := json.Marshal(map[string]string{"phone": acct.Phone, "password": acct.Password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.gw+"/admin/api/session", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, out)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "ep_session" && c.Value != "" {
			return c.Name + "=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("no ep_session cookie in the login response: %v", resp.Header.Values("Set-Cookie"))
}

// demoCommunity finds the demo community that takes both apps.
func (b *bench) demoCommunity() error {
	for _, c := range b.s.Demo.Communities {
		if c.ID == "demo-both" {
			b.fx.tokenBoth, b.fx.communityID = c.Token, c.ID
		}
	}
	if b.fx.tokenBoth == "" {
		return errors.New("demo community demo-both not seeded")
	}
	return nil
}

// streamEvent is the event a DynamoDB stream mapping hands its function for
// one record (Lambda's DynamoDB event, as the stack's mappings send it).
func (b *bench) streamEvent(rec dynamo.StreamRecord) ([]byte, error) {
	var tbl tableInfo
	for _, t := range b.tables {
		if t.Stream {
			tbl = t
		}
	}
	type change struct {
		ApproximateCreationDateTime int64                      `json:"ApproximateCreationDateTime"`
		Keys                        map[string]json.RawMessage `json:"Keys,omitempty"`
		NewImage                    map[string]json.RawMessage `json:"NewImage,omitempty"`
		OldImage                    map[string]json.RawMessage `json:"OldImage,omitempty"`
		SequenceNumber              string                     `json:"SequenceNumber"`
		SizeBytes                   int64                      `json:"SizeBytes"`
		StreamViewType              string                     `json:"StreamViewType"`
	}
	type record struct {
		EventID        string `json:"eventID"`
		EventName      string `json:"eventName"`
		EventVersion   string `json:"eventVersion"`
		EventSource    string `json:"eventSource"`
		AWSRegion      string `json:"awsRegion"`
		DynamoDB       change `json:"dynamodb"`
		EventSourceARN string `json:"eventSourceARN"`
	}
	ev := struct {
		Records []record `json:"Records"`
	}{[]record{{EventID: rec.EventID, EventName: rec.EventName, EventVersion: "1.1", EventSource: "aws:dynamodb", AWSRegion: stack.Region,
		EventSourceARN: b.s.DynamoDB().StreamArn(tbl.Name),
		DynamoDB: change{ApproximateCreationDateTime: rec.ApproximateCreationDateTime.Unix(), Keys: rec.Keys, NewImage: rec.NewImage,
			OldImage: rec.OldImage, SequenceNumber: rec.SequenceNumber, SizeBytes: rec.SizeBytes, StreamViewType: rec.StreamViewType}}}}
	return json.Marshal(ev)
}

// checkBatchResponse accepts a stream batch response without failed items.
func checkBatchResponse(out []byte) error {
	var resp struct {
		Failures []json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("stream batch response is not JSON: %.200s", out)
	}
	if len(resp.Failures) > 0 {
		return fmt.Errorf("stream batch response reports failures: %.300s", out)
	}
	return nil
}

func newJar() *cookiejar.Jar {
	j, _ := cookiejar.New(nil) // never fails without options
	return j
}

// wechatLanding opens the collection code in "WeChat": the landing redirects to
// the sandbox's OAuth, which redirects back with a code, and the landing renders
// the form and sets the signed payer cookie. It returns that cookie (name=value)
// as the pay page's order request sends it.
func (b *bench) wechatLanding(ctx context.Context, jar http.CookieJar) (string, error) {
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: b.client.Transport}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.gw+"/c/"+b.fx.tokenBoth, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", wechatsb.WeChatUserAgent)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`data-channel="wechat"`)) {
		return "", fmt.Errorf("HTTP %d without the WeChat form: %.300s", resp.StatusCode, body)
	}
	u, err := url.Parse(b.gw + "/api/orders")
	if err != nil {
		return "", err
	}
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "ep_payer" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", errors.New("the WeChat form came without a payer cookie for /api/orders")
}

func idempotencyKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

// orderRequest is POST /api/orders as the pay page sends it, with a fresh key.
func (b *bench) orderRequest(ctx context.Context, ch domain.Channel) (*http.Request, error) {
	// demo-both requires 房号 (a payer field).
	body := map[string]any{"token": b.fx.tokenBoth, "channel": ch, "amount_fen": amountFen, "fields": map[string]string{"room": "1-101"}}
	ua := AlipayUserAgent
	if ch == domain.WeChat {
		ua = wechatsb.WeChatUserAgent
	}
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.gw+"/api/orders", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idempotencyKey())
	req.Header.Set("User-Agent", ua)
	if ch == domain.WeChat {
		req.Header.Set("Cookie", b.fx.payerCookie)
	}
	return req, nil
}

func checkCreated(status int, body []byte) error {
	if status != http.StatusCreated {
		return fmt.Errorf("POST /api/orders: HTTP %d: %.300s", status, body)
	}
	return nil
}

func (b *bench) createOrder(ctx context.Context, ch domain.Channel) (orderView, error) {
	var o orderView
	req, err := b.orderRequest(ctx, ch)
	if err != nil {
		return o, err
	}
	status, body, _, err := b.do(req)
	if err != nil {
		return o, err
	}
	if err := checkCreated(status, body); err != nil {
		return o, err
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return o, err
	}
	if o.Pay == nil || (ch == domain.Alipay && o.Pay.RedirectURL == "") || (ch == domain.WeChat && len(o.Pay.JSAPI) == 0) {
		return o, fmt.Errorf("created %s order without pay parameters: %s", ch, body)
	}
	return o, nil
}

// do sends req and returns the status, body and the time until the whole body
// was read.
func (b *bench) do(req *http.Request) (int, []byte, time.Duration, error) {
	start := time.Now()
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	return resp.StatusCode, body, d, err
}

// payFresh pays an open order at the sandbox and waits until the sandbox's own
// callback was accepted. For Alipay it first opens the cashier (the wap trade
// exists at Alipay only from then on). It returns the time from the sandbox's
// Pay until the callback was acknowledged (the provider's view of our
// processing of a first callback).
func (b *bench) payFresh(ctx context.Context, ch domain.Channel, o orderView) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	switch ch {
	case domain.Alipay:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.Pay.RedirectURL, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("User-Agent", AlipayUserAgent)
		status, body, _, err := b.do(req)
		if err != nil {
			return 0, err
		}
		if status != http.StatusOK || !bytes.Contains(body, []byte(`id="cashier"`)) {
			return 0, fmt.Errorf("alipay cashier: HTTP %d: %.300s", status, body)
		}
		start := time.Now()
		if err := b.s.Alipay().Pay(o.OrderID); err != nil {
			return 0, err
		}
		line, err := b.cap.WaitSandboxLine(ctx, "alipay sandbox: notify", "out_trade_no="+o.OrderID)
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("waiting for the alipay callback of %s: %w", o.OrderID, err)
		}
		if !strings.Contains(line, "acked=true") {
			return 0, fmt.Errorf("alipay callback of %s not acknowledged: %s", o.OrderID, line)
		}
		return d, nil
	case domain.WeChat:
		sub, unsubscribe := b.s.WeChat().Subscribe()
		defer unsubscribe()
		start := time.Now()
		if err := b.s.WeChat().Pay(o.OrderID); err != nil {
			return 0, err
		}
		for {
			select {
			case d := <-sub:
				if d.OutTradeNo != o.OrderID {
					continue
				}
				took := time.Since(start)
				if !d.OK {
					return 0, fmt.Errorf("wechat callback of %s: HTTP %d %s", o.OrderID, d.Status, d.Err)
				}
				return took, nil
			case <-ctx.Done():
				return 0, fmt.Errorf("waiting for the wechat callback of %s: %w", o.OrderID, ctx.Err())
			}
		}
	}
	return 0, fmt.Errorf("unknown channel %q", ch)
}

// callbackRequest is a genuine signed callback for a paid order, built with the
// sandboxes' helpers (WeChat: SignedNotification; Alipay: NotificationFor+Form
// signed with Alipay's key), addressed to the order's notify URL.
func (b *bench) callbackRequest(ctx context.Context, ch domain.Channel, orderID string) (*http.Request, error) {
	switch ch {
	case domain.WeChat:
		return b.s.WeChat().SignedNotification(ctx, orderID, wechatsb.NotifyOptions{})
	case domain.Alipay:
		n, err := b.s.Alipay().NotificationFor(orderID)
		if err != nil {
			return nil, err
		}
		form, err := n.Form(b.s.Keys().AlipayPlatform)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.fx.alipayNotifyURL, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.Header.Set("User-Agent", "Mozilla/4.0")
		return req, nil
	}
	return nil, fmt.Errorf("unknown channel %q", ch)
}

func checkCallback(ch domain.Channel) func(int, []byte) error {
	return func(status int, body []byte) error {
		switch {
		case ch == domain.WeChat && (status == http.StatusOK || status == http.StatusNoContent):
			return nil
		case ch == domain.Alipay && status == http.StatusOK && string(body) == "success":
			return nil
		}
		return fmt.Errorf("%s callback: HTTP %d: %.300s", ch, status, body)
	}
}

// probe is one representative request of a function.
type probe struct {
	function string
	name     string
	// request builds a fresh HTTP request to the gateway (untimed).
	request func(ctx context.Context) (*http.Request, error)
	check   func(status int, body []byte) error
	// schedule names the schedule of a function without HTTP routes: warm
	// samples fire it through the stack, cold samples send its payload.
	schedule string
	payload  []byte
	// invoke is an event the stack hands the function directly (a DynamoDB
	// stream batch for RelayFunction); checkRaw checks its response.
	invoke   []byte
	checkRaw func([]byte) error
}

func expect(status int, contains string) func(int, []byte) error {
	return func(got int, body []byte) error {
		if got != status || !bytes.Contains(body, []byte(contains)) {
			return fmt.Errorf("HTTP %d (want %d with %q): %.300s", got, status, contains, body)
		}
		return nil
	}
}

func (b *bench) get(path, ua string, header ...string) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		base := b.gw
		if path == helloRoute {
			base = b.helloURL
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return req, nil
	}
}

// probes are the representative requests, each function's main one first.
func (b *bench) probes() []probe {
	ps := []probe{
		{function: helloID, name: "GET /hello", request: b.get(helloRoute, ""), check: expect(200, "ok")},
		{function: "LandingFunction", name: "GET /c/{token} (Alipay UA: form)", request: b.get("/c/"+b.fx.tokenBoth, AlipayUserAgent),
			check: expect(200, `data-channel="alipay"`)},
		{function: "LandingFunction", name: "GET /healthz", request: b.get("/healthz", ""), check: expect(200, `"ok"`)},
		{function: "OrdersFunction", name: "GET /api/orders/{id} (paid order)", request: b.get("/api/orders/"+b.fx.paid["alipay"], ""),
			check: expect(200, `"status":"PAID"`)},
		{function: "OrdersFunction", name: "POST /api/orders (Alipay, new key)",
			request: func(ctx context.Context) (*http.Request, error) { return b.orderRequest(ctx, domain.Alipay) }, check: checkCreated},
		{function: "WechatNotifyFunction", name: "POST /notify/wechat/{iface} (signed, already paid)",
			request: func(ctx context.Context) (*http.Request, error) {
				return b.callbackRequest(ctx, domain.WeChat, b.fx.paid["wechat"])
			}, check: checkCallback(domain.WeChat)},
		{function: "AlipayNotifyFunction", name: "POST /notify/alipay/{iface} (signed, already paid)",
			request: func(ctx context.Context) (*http.Request, error) {
				return b.callbackRequest(ctx, domain.Alipay, b.fx.paid["alipay"])
			}, check: checkCallback(domain.Alipay)},
		{function: "AdminFunction", name: "GET /admin/api/communities/{id}/payments",
			request: b.get("/admin/api/communities/"+b.fx.communityID+"/payments", "", "Cookie", b.fx.consoleCookie),
			check:   expect(200, `"payments"`)},
	}
	if b.fx.relayEvent != nil {
		ps = append(ps, probe{function: "RelayFunction", name: "stream batch: 1 record (order → PAID: payment.succeeded)",
			invoke: b.fx.relayEvent, checkRaw: checkBatchResponse})
	}
	if b.fx.statsEvent != nil {
		ps = append(ps, probe{function: "StatsFunction", name: "SQS batch: events/stats-events.json (a payment and its refund, counted once, then duplicates)",
			invoke: b.fx.statsEvent, checkRaw: checkBatchResponse})
	}
	if b.fx.announceEvent != nil {
		ps = append(ps, probe{function: "AnnounceFunction", name: "SQS batch: events/announce-events.json (a manager's payment: two announcements, then none)",
			invoke: b.fx.announceEvent, checkRaw: checkBatchResponse})
	}
	// Functions without HTTP routes: their schedules.
	for _, f := range b.tmpl.Functions() {
		for _, e := range f.Events {
			if e.Type != "ScheduleV2" && e.Type != "Schedule" {
				continue
			}
			input, _ := e.Properties["Input"].(string)
			if input == "" {
				input = "{}"
			}
			ps = append(ps, probe{function: f.LogicalID, name: "schedule " + e.Name + " " + input,
				schedule: f.LogicalID + "." + e.Name, payload: []byte(input)})
		}
	}
	return ps
}

// timeProbe sends one request of p and returns its latency (request build and
// response check untimed).
func (b *bench) timeProbe(ctx context.Context, p probe) (time.Duration, error) {
	if p.invoke != nil {
		start := time.Now()
		out, err := b.s.Invoke(ctx, p.function, p.invoke)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		return d, p.checkRaw(out)
	}
	if p.schedule != "" {
		start := time.Now()
		_, err := b.s.FireSchedule(ctx, p.schedule, "")
		return time.Since(start), err
	}
	req, err := p.request(ctx)
	if err != nil {
		return 0, err
	}
	status, body, d, err := b.do(req)
	if err != nil {
		return 0, err
	}
	return d, p.check(status, body)
}

// sample runs warmup untimed and n timed calls of f.
func sample(ctx context.Context, warmup, n int, f func(context.Context) (time.Duration, error)) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := 0; i < warmup+n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := f(ctx)
		if err != nil {
			return nil, err
		}
		if i >= warmup {
			out = append(out, d)
		}
	}
	return out, nil
}
