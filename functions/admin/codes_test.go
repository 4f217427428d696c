package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/qrscan"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

const (
	tokCurrent = "tokCurrent0123456789abcdef"
	tokOld     = "tokOld00000123456789abcdef"
	tokOther   = "tokOther000123456789abcdef"
)

// fakeCodes is a directory with company co-a's community c1 (current code
// tokCurrent, an older active one tokOld) and co-b's community c2.
type fakeCodes struct{ noCode bool }

var (
	codeCompany = store.Company{ID: "co-a", Name: "示范物业", AlipayIfaceID: "ali"}
	codeCom1    = store.Community{ID: "c1", CompanyID: "co-a", Name: "阳光花园", PayerFields: domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText}}}
	codeCom2    = store.Community{ID: "c2", CompanyID: "co-b", Name: "别家小区"}
)

func (f fakeCodes) GetCommunity(_ context.Context, id string) (store.Community, error) {
	switch id {
	case "c1":
		return codeCom1, nil
	case "c2":
		return codeCom2, nil
	}
	return store.Community{}, store.ErrNotFound
}

func (f fakeCodes) LoadCollection(_ context.Context, token string) (store.Collection, error) {
	ali := &store.Interface{ID: "ali", CompanyID: "co-a", Channel: domain.Alipay, Status: domain.StatusApproved}
	switch token {
	case tokCurrent, tokOld:
		return store.Collection{Code: store.Code{Token: token, CommunityID: "c1", Status: "active"}, Community: codeCom1, Company: codeCompany, Alipay: ali}, nil
	case tokOther:
		return store.Collection{Code: store.Code{Token: token, CommunityID: "c2", Status: "active"}, Community: codeCom2, Company: store.Company{ID: "co-b"}}, nil
	}
	return store.Collection{}, store.ErrNotFound
}

func (f fakeCodes) CommunityCode(_ context.Context, id string) (store.Code, error) {
	if f.noCode {
		return store.Code{}, store.ErrNotFound
	}
	switch id {
	case "c1":
		return store.Code{Token: tokCurrent, CommunityID: "c1", Status: "active"}, nil
	case "c2":
		return store.Code{Token: tokOther, CommunityID: "c2", Status: "active"}, nil
	}
	return store.Code{}, store.ErrNotFound
}

func codeReq(id string, q map[string]string) web.Request {
	return web.Request{PathParameters: map[string]string{"id": id}, QueryStringParameters: q}
}

func TestCodePrints(t *testing.T) {
	ctx := context.Background()
	p := &CodePrints{Directory: fakeCodes{}, PublicBaseURL: "https://pay.example.com/", Log: quietLog}
	own := Tenant{CompanyID: "co-a"}

	// The PNG decodes to the community's current code URL.
	r := p.PNG(ctx, own, codeReq("c1", map[string]string{"download": "1"}))
	if r.StatusCode != http.StatusOK || r.Headers["Content-Type"] != "image/png" || !r.IsBase64Encoded {
		t.Fatalf("PNG: %d %v", r.StatusCode, r.Headers)
	}
	raw, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := qrscan.Read(img); err != nil || text != "https://pay.example.com/c/"+tokCurrent {
		t.Fatalf("decoded %q %v", text, err)
	}
	if cd := r.Headers["Content-Disposition"]; !strings.HasPrefix(cd, `attachment; filename="code-c1.png"; filename*=UTF-8''`) {
		t.Fatalf("Content-Disposition %q", cd)
	}

	// ?code= prints another active code of the same community.
	r = p.SVG(ctx, own, codeReq("c1", map[string]string{"code": tokOld}))
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Headers["Content-Type"], "image/svg+xml") ||
		!strings.Contains(r.Body, "阳光花园") || !strings.HasPrefix(r.Headers["Content-Disposition"], "inline;") {
		t.Fatalf("SVG: %d %v", r.StatusCode, r.Headers)
	}
	if !strings.Contains(r.Headers["Content-Security-Policy"], "sandbox") {
		t.Fatal("the SVG document must not run anything")
	}

	// The poster: Alipay only (C2), the payer field in the steps, its CSP.
	r = p.Poster(ctx, own, codeReq("c1", map[string]string{"paper": "A5"}))
	if r.StatusCode != http.StatusOK || r.Headers["Content-Security-Policy"] != qrprint.PosterCSP {
		t.Fatalf("poster: %d %v", r.StatusCode, r.Headers)
	}
	for _, s := range []string{"阳光花园", "示范物业", domain.MsgScanAlipay, "size: A5", "房号", "<svg "} {
		if !strings.Contains(r.Body, s) {
			t.Errorf("poster lacks %q", s)
		}
	}

	// Tenancy and missing things: all 404, never another company's code.
	for name, tc := range map[string]struct {
		p    *CodePrints
		t    Tenant
		id   string
		q    map[string]string
		code string
	}{
		"other company's community":         {p, own, "c2", nil, "not_found"},
		"unknown community":                 {p, own, "nope", nil, "not_found"},
		"no tenant":                         {p, Tenant{}, "c1", nil, "not_found"},
		"another community's code by ?code": {p, own, "c1", map[string]string{"code": tokOther}, "no_code"},
		"revoked or unknown code":           {p, own, "c1", map[string]string{"code": "tokRevoked0123456789abcdef"}, "no_code"},
		"community without a code":          {&CodePrints{Directory: fakeCodes{noCode: true}, PublicBaseURL: "https://x", Log: quietLog}, own, "c1", nil, "no_code"},
	} {
		for _, serve := range []func(context.Context, Tenant, web.Request) web.Response{tc.p.PNG, tc.p.SVG, tc.p.Poster} {
			r := serve(ctx, tc.t, codeReq(tc.id, tc.q))
			if code, _ := errCode(t, r); r.StatusCode != http.StatusNotFound || code != tc.code {
				t.Errorf("%s: %d %s", name, r.StatusCode, r.Body)
			}
		}
	}
	// The operator prints any company's codes.
	if r := p.PNG(ctx, Tenant{Platform: true}, codeReq("c2", nil)); r.StatusCode != http.StatusOK {
		t.Fatalf("operator: %d", r.StatusCode)
	}
}
