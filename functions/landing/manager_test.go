package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// A business manager's codes on the customer's page (M3, M4): the form
// names the company and the manager; an extra code's preset values are
// filled in and locked (the rest asked); a code a refresh replaced still
// shows the form 2:59:59 after the refresh and answers 410 此收款码已失效
// at 3:00:00 (injected clock).
func TestManagerCodePage(t *testing.T) {
	st := stacktest.NewStore(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateInterface(ctx, store.Interface{ID: "ali-m", CompanyID: "co-m", Channel: domain.Alipay, Status: domain.StatusApproved, Mode: "app", AppID: "2021009", SellerID: "2088009", SecretRef: "file:///x"}))
	must(st.CreateCompany(ctx, store.Company{ID: "co-m", Name: "星光物业", AlipayIfaceID: "ali-m", PayerFields: domain.PayerFields{
		{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true},
		{Key: "contract", Label: "合同编号", Type: domain.FieldNumber, Required: true},
	}}))
	must(st.CreateCommunity(ctx, store.Community{ID: "cm-m", CompanyID: "co-m", Name: "星光广场"}))
	t0 := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	now := t0
	set, err := managercode.New("mgr-1", "co-m", "cm-m", "tokLandingDefault000000001", t0)
	must(err)
	must(st.CreateManagerCodes(ctx, set, "张<经理>"))
	fields := domain.PayerFields{{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true}, {Key: "contract", Label: "合同编号", Type: domain.FieldNumber, Required: true}}
	_, _, err = st.ChangeManagerCodes(ctx, "mgr-1", "张<经理>", func(s *managercode.Set) ([]managercode.Superseded, error) {
		_, err := s.AddExtra("x1", "甲公司专用", "tokLandingExtra00000000001", map[string]string{"company": `甲"公司`}, fields, t0)
		return nil, err
	})
	must(err)
	h := &Handler{Directory: st, Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PublicBaseURL: "https://pay.example.com",
		MaxAmountFen: 5_000_000, Now: func() time.Time { return now }}
	open := func(token string) web.Response {
		t.Helper()
		req := web.Request{RouteKey: "GET /c/{token}", PathParameters: map[string]string{"token": token}, Headers: map[string]string{"user-agent": uaAlipay}}
		r, err := h.Handle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	r := open(set.Default.Token)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `id="payform"`) || !strings.Contains(r.Body, "<h1>星光物业</h1>") || !strings.Contains(r.Body, "收款人：张&lt;经理&gt;") {
		t.Fatalf("default code: %d %s", r.StatusCode, r.Body)
	}
	if strings.Contains(r.Body, "readonly") || strings.Contains(r.Body, "已预设") {
		t.Error("the default code presets something")
	}
	r = open("tokLandingExtra00000000001")
	if r.StatusCode != 200 || !strings.Contains(r.Body, "甲公司专用") {
		t.Fatalf("extra code: %d %s", r.StatusCode, r.Body)
	}
	company := inputOf(t, r.Body, "company")
	for _, want := range []string{`value="甲&#34;公司"`, "readonly", `data-preset="1"`} {
		if !strings.Contains(company, want) {
			t.Errorf("preset field %q lacks %s", company, want)
		}
	}
	if strings.Contains(company, "data-required") {
		t.Errorf("a preset field is asked for: %q", company)
	}
	contract := inputOf(t, r.Body, "contract")
	if strings.Contains(contract, "readonly") || strings.Contains(contract, "value=") || !strings.Contains(contract, `data-required="1"`) {
		t.Errorf("the field left to the payer: %q", contract)
	}

	// Refresh the default code at t0 + 1 h.
	refreshed := t0.Add(time.Hour)
	_, _, err = st.ChangeManagerCodes(ctx, "mgr-1", "张<经理>", func(s *managercode.Set) ([]managercode.Superseded, error) {
		old, err := s.Refresh("", "tokLandingDefault000000002", refreshed)
		return []managercode.Superseded{old}, err
	})
	must(err)
	now = refreshed.Add(2*time.Hour + 59*time.Minute + 59*time.Second)
	if r := open(set.Default.Token); r.StatusCode != 200 || !strings.Contains(r.Body, `id="payform"`) {
		t.Fatalf("2:59:59 after the refresh: %d", r.StatusCode)
	}
	now = refreshed.Add(3 * time.Hour)
	r = open(set.Default.Token)
	if r.StatusCode != 410 || strings.Contains(r.Body, `id="payform"`) || !strings.Contains(r.Body, "此收款码已失效") || r.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("3:00:00 after the refresh: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	if r := open("tokLandingDefault000000002"); r.StatusCode != 200 || !strings.Contains(r.Body, `id="payform"`) {
		t.Fatalf("the new code: %d", r.StatusCode)
	}
}

// inputOf returns the <input …> tag of payer field key.
func inputOf(t *testing.T, body, key string) string {
	t.Helper()
	i := strings.Index(body, `<input id="field-`+key+`"`)
	if i < 0 {
		t.Fatalf("no input for %s", key)
	}
	j := strings.Index(body[i:], ">")
	return body[i : i+j+1]
}
