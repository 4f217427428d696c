package main

import (
	"context"
	"errors"

	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// newCodeToken is a code's unguessable token: 24 random bytes, 32 URL-safe
// characters (C1: >= 128 bits).
func newCodeToken() string { return randomToken(24) }

// loadCode reads a code and its community, both the caller's (404 otherwise).
func (h *Handler) loadCode(ctx context.Context, c *call, token string) (store.Code, store.Community, web.Response, bool) {
	code, err := h.Store.GetCode(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return code, store.Community{}, h.notFound(c), false
	}
	if err != nil {
		return code, store.Community{}, h.internal(ctx, c, "get code", err), false
	}
	cm, resp, ok := h.loadCommunity(ctx, c, code.CommunityID)
	return code, cm, resp, ok
}

func (h *Handler) createCode(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	code := store.Code{Token: newCodeToken(), CommunityID: cm.ID, Kind: "community", Status: "active"}
	if err := h.Store.CreateCode(ctx, code); err != nil {
		return h.internal(ctx, c, "create code", err)
	}
	h.audit(ctx, c, "code.create", "code", code.Token, nil, code)
	return c.done("/admin/communities/"+cm.ID, "created")
}

func (h *Handler) revokeCode(ctx context.Context, c *call) web.Response {
	code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
	if !ok {
		return resp
	}
	if code.Status != "active" {
		return c.done("/admin/communities/"+cm.ID, "revoked")
	}
	before, after, err := h.Store.UpdateCode(ctx, code.Token, func(cd *store.Code) error { cd.Status = "revoked"; return nil })
	if err != nil {
		return h.internal(ctx, c, "revoke code", err)
	}
	h.audit(ctx, c, "code.revoke", "code", code.Token, before, after)
	return c.done("/admin/communities/"+cm.ID, "revoked")
}

// rotateCode replaces an active code by a new one (same payer fields) in one
// transaction: the old one stops working at once.
func (h *Handler) rotateCode(ctx context.Context, c *call) web.Response {
	code, cm, resp, ok := h.loadCode(ctx, c, c.params["token"])
	if !ok {
		return resp
	}
	next := store.Code{Token: newCodeToken(), CommunityID: cm.ID, Kind: code.Kind, Status: "active", PayerFields: code.PayerFields, DynamicOnly: code.DynamicOnly}
	old, err := h.Store.RotateCode(ctx, code.Token, next)
	if errors.Is(err, store.ErrConflict) {
		return h.formError(c, "该收款码已作废或刚被修改，请刷新后重试", "/admin/communities/"+cm.ID)
	}
	if err != nil {
		return h.internal(ctx, c, "rotate code", err)
	}
	h.audit(ctx, c, "code.rotate", "code", code.Token, old, next)
	return c.done("/admin/communities/"+cm.ID, "rotated")
}
