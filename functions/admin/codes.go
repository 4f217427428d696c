package main

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Tenant is whose data a console caller may see: one company's, or every
// company's for the platform operator. The router builds it from the
// session's principal after checking the permission; codes and records
// answer 404 for anything outside it, exactly as for what does not exist.
type Tenant struct {
	CompanyID string // the caller's company ("" for the operator)
	Platform  bool   // the platform operator
}

// Sees reports whether the tenant may see a resource of companyID.
func (t Tenant) Sees(companyID string) bool {
	return t.Platform || (t.CompanyID != "" && t.CompanyID == companyID)
}

// CodeDirectory is the directory as the code downloads read it
// (*store.Store has the first two).
type CodeDirectory interface {
	GetCommunity(ctx context.Context, id string) (store.Community, error)
	// LoadCollection resolves an active code to its community, company and
	// interfaces (C2); unknown or revoked codes are store.ErrNotFound.
	LoadCollection(ctx context.Context, token string) (store.Collection, error)
	// CommunityCode is the community's current active code (store.ErrNotFound
	// when it has none).
	CommunityCode(ctx context.Context, communityID string) (store.Code, error)
}

// CodePrints serves a community's code as print files (C5):
//
//	GET /admin/api/communities/{id}/code.png   PNG, >= 1024 px, 300 dpi, caption
//	GET /admin/api/communities/{id}/code.svg   SVG, vector modules, caption as text
//	GET /admin/communities/{id}/poster         printable A4/A5 page (?paper=A5)
//
// Each takes ?code=<token> to print one code of the community instead of
// its current one, and ?download=1 to be saved as a file (Content-Disposition
// attachment) rather than shown.
type CodePrints struct {
	Directory     CodeDirectory
	PublicBaseURL string // PUBLIC_BASE_URL: what the codes encode
	Log           *slog.Logger
}

// Messages of the code downloads.
const (
	msgNoCommunity = "小区不存在"
	msgNoCode      = "该小区还没有可用的收款码"
)

// printable is a code resolved for printing.
type printable struct {
	coll store.Collection
	url  string
}

// resolve finds the community {id} of the tenant and the code to print.
func (p *CodePrints) resolve(ctx context.Context, t Tenant, req web.Request) (printable, web.Response, bool) {
	id := req.PathParameters["id"]
	com, err := p.Directory.GetCommunity(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Sees(com.CompanyID)) {
		return printable{}, web.Error(http.StatusNotFound, "not_found", msgNoCommunity), false
	}
	if err != nil {
		p.Log.ErrorContext(ctx, "get community", "err", err)
		return printable{}, web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试"), false
	}
	token := req.QueryStringParameters["code"]
	if token == "" {
		code, err := p.Directory.CommunityCode(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return printable{}, web.Error(http.StatusNotFound, "no_code", msgNoCode), false
		}
		if err != nil {
			p.Log.ErrorContext(ctx, "community code", "err", err)
			return printable{}, web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试"), false
		}
		token = code.Token
	}
	coll, err := p.Directory.LoadCollection(ctx, token)
	if errors.Is(err, store.ErrNotFound) || (err == nil && coll.Community.ID != com.ID) {
		return printable{}, web.Error(http.StatusNotFound, "no_code", msgNoCode), false
	}
	if err != nil {
		p.Log.ErrorContext(ctx, "load collection", "err", err)
		return printable{}, web.Error(http.StatusInternalServerError, "internal", "服务暂时不可用，请稍后再试"), false
	}
	return printable{coll: coll, url: qrprint.CodeURL(p.PublicBaseURL, token)}, web.Response{}, true
}

func (c printable) label() qrprint.Label {
	return qrprint.Label{Community: c.coll.Community.Name, Company: c.coll.Company.Name, Fenfu: offersFenfu(c.coll)}
}

// PNG answers the print-quality PNG.
func (p *CodePrints) PNG(ctx context.Context, t Tenant, req web.Request) web.Response {
	c, resp, ok := p.resolve(ctx, t, req)
	if !ok {
		return resp
	}
	b, err := qrprint.PNG(c.url, c.label())
	if err != nil {
		p.Log.ErrorContext(ctx, "code png", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "生成收款码失败")
	}
	r := file("image/png", b, true)
	r.Headers["Content-Disposition"] = disposition(req, c.coll.Community.Name+"-收款码.png", "code-"+c.coll.Community.ID+".png")
	return r
}

// SVG answers the vector code.
func (p *CodePrints) SVG(ctx context.Context, t Tenant, req web.Request) web.Response {
	c, resp, ok := p.resolve(ctx, t, req)
	if !ok {
		return resp
	}
	b, err := qrprint.SVG(c.url, c.label())
	if err != nil {
		p.Log.ErrorContext(ctx, "code svg", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "生成收款码失败")
	}
	r := file("image/svg+xml; charset=utf-8", b, false)
	// Shown on its own (not through <img>), an SVG is a document: let it run nothing.
	r.Headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
	r.Headers["Content-Disposition"] = disposition(req, c.coll.Community.Name+"-收款码.svg", "code-"+c.coll.Community.ID+".svg")
	return r
}

// Poster answers the printable poster page (?paper=A4|A5).
func (p *CodePrints) Poster(ctx context.Context, t Tenant, req web.Request) web.Response {
	c, resp, ok := p.resolve(ctx, t, req)
	if !ok {
		return resp
	}
	var labels []string
	for _, f := range c.coll.PayerFields() {
		labels = append(labels, f.Label)
	}
	q := url.Values{}
	if code := req.QueryStringParameters["code"]; code != "" {
		q.Set("code", code)
	}
	b, err := qrprint.RenderPoster(qrprint.Poster{
		Community: c.coll.Community.Name, Company: c.coll.Company.Name, URL: c.url,
		Apps: c.coll.Availability(), Fields: labels, Paper: qrprint.ParsePaper(req.QueryStringParameters["paper"]), Query: q,
		Fenfu: offersFenfu(c.coll),
	})
	if err != nil {
		p.Log.ErrorContext(ctx, "poster", "err", err)
		return web.Error(http.StatusInternalServerError, "internal", "生成海报失败")
	}
	r := file("text/html; charset=utf-8", b, false)
	r.Headers["Content-Security-Policy"] = qrprint.PosterCSP
	return r
}

// file is a 200 response carrying b (base64 when binary: API Gateway
// decodes it).
func file(contentType string, b []byte, binary bool) web.Response {
	r := web.Text(http.StatusOK, "")
	r.Headers["Content-Type"] = contentType
	if binary {
		r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString(b), true
	} else {
		r.Body = string(b)
	}
	return r
}

// disposition names the file: attachment with ?download=1, else inline; the
// Chinese name in filename* (RFC 6266/5987), an ASCII one for old clients.
func disposition(req web.Request, name, ascii string) string {
	kind := "inline"
	if req.QueryStringParameters["download"] == "1" {
		kind = "attachment"
	}
	return kind + `; filename="` + asciiName(ascii) + `"; filename*=UTF-8''` + url.PathEscape(name)
}

// asciiName keeps the characters a quoted filename may hold safely.
func asciiName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
