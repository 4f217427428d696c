package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Codes: the code's page (QR shown), PNG at print resolution, SVG and the
// printable poster. The routes, tenancy and permission checks are here; the
// rendering is CodeViews, filled by the codes part of the console.

// CodeTarget is a code the caller may see, with what its prints name.
type CodeTarget struct {
	Code      store.Code
	Community store.Community
	Company   store.Company
	URL       string // what the QR encodes: <PublicBaseURL>/c/<token>
}

// CodeViews renders codes (h and c give the page helpers: h.page, h.render).
type CodeViews interface {
	CodePage(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response // GET /admin/codes/{token}
	Poster(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response   // GET /admin/codes/{token}/poster (A4/A5 print CSS)
	PNG(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response      // ≥ 1024 px, quiet zone, 300 dpi, caption
	SVG(ctx context.Context, h *Handler, c *call, t CodeTarget) web.Response
}

func init() {
	register(
		route{method: "GET", pattern: "/admin/codes/{token}", action: ActCommunityView, handle: codeRoute(CodeViews.CodePage)},
		route{method: "GET", pattern: "/admin/codes/{token}/poster", action: ActCommunityView, handle: codeRoute(CodeViews.Poster)},
		route{method: "GET", pattern: "/admin/codes/{token}/code.png", action: ActCommunityView, handle: codeRoute(CodeViews.PNG)},
		route{method: "GET", pattern: "/admin/codes/{token}/code.svg", action: ActCommunityView, handle: codeRoute(CodeViews.SVG)},
		// The contract: a community's (active) code.
		route{method: "GET", pattern: "/admin/api/communities/{id}/code.png", action: ActCommunityView, handle: communityCodeRoute(CodeViews.PNG)},
		route{method: "GET", pattern: "/admin/api/communities/{id}/code.svg", action: ActCommunityView, handle: communityCodeRoute(CodeViews.SVG)},
	)
}

type codeView func(CodeViews, context.Context, *Handler, *call, CodeTarget) web.Response

// codeRoute resolves /…/codes/{token} to a target of the caller's company.
func codeRoute(v codeView) func(*Handler, context.Context, *call) web.Response {
	return func(h *Handler, ctx context.Context, c *call) web.Response {
		code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
		if !ok {
			return resp
		}
		return h.serveCode(ctx, c, v, code, cm)
	}
}

// communityCodeRoute resolves /admin/api/communities/{id}/… to the
// community's active code.
func communityCodeRoute(v codeView) func(*Handler, context.Context, *call) web.Response {
	return func(h *Handler, ctx context.Context, c *call) web.Response {
		cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
		if !ok {
			return resp
		}
		code, err := h.Store.CommunityCode(ctx, cm.ID)
		if errors.Is(err, store.ErrNotFound) {
			return h.fail(c, http.StatusNotFound, "no_active_code", "该小区没有使用中的收款码")
		}
		if err != nil {
			return h.internal(ctx, c, "community code", err)
		}
		return h.serveCode(ctx, c, v, code, cm)
	}
}

func (h *Handler) serveCode(ctx context.Context, c *call, v codeView, code store.Code, cm store.Community) web.Response {
	if h.Codes == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	co, err := h.Store.GetCompany(ctx, cm.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "get company", err)
	}
	return v(h.Codes, ctx, h, c, CodeTarget{Code: code, Community: cm, Company: co, URL: h.codeURL(code.Token)})
}
