package main

import (
	"context"
	"net/http"
	"net/url"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/web"
)

// ActFenfuView: the 分付 risk records and warnings, in full (F4, F6: risk
// officers; staff.FenfuView decides who else).
const ActFenfuView Action = "fenfu.view"

// ActFenfuViewMasked: the same page with the payer masked (F6: the console
// shows the staff without full access masked data; staff.FenfuViewMasked).
const ActFenfuViewMasked Action = "fenfu.view.masked"

// FenfuRiskRecords is the risk records' store (store.Fenfu).
type FenfuRiskRecords interface {
	Records(ctx context.Context, company string, warningsOnly bool, after string, limit int32) ([]fenfu.RiskRecord, string, error)
}

func init() {
	staffActions[ActFenfuView] = staff.FenfuView
	staffActions[ActFenfuViewMasked] = staff.FenfuViewMasked
	register(
		route{method: "GET", pattern: "/admin/fenfu/risk", action: ActFenfuViewMasked, handle: (*Handler).fenfuRiskPage},
		route{method: "GET", pattern: "/admin/api/fenfu/risk", action: ActFenfuViewMasked, handle: (*Handler).apiFenfuRisk},
	)
}

const fenfuRiskPageSize = 30

var ruleNames = map[string]string{
	fenfu.RuleNightLarge: "夜间大额", fenfu.RuleDailyLimit: "单日限额", fenfu.RuleInARow: "连续分付", fenfu.RuleSuspicious: "可疑暂缓",
}

var decisionNames = map[fenfu.Decision]string{
	fenfu.Allow: "通过", fenfu.Refuse: "拒绝", fenfu.Warn: "预警", fenfu.Hold: "暂缓结算",
}

// fenfuRiskRow is one record as the page and the API show it.
type fenfuRiskRow struct {
	At        string `json:"at"`
	OrderID   string `json:"order_id"`
	Merchant  string `json:"merchant_id"`
	Payer     string `json:"payer_openid"`
	Rule      string `json:"rule"`
	RuleName  string `json:"rule_name"`
	Decision  string `json:"decision"`
	Decided   string `json:"decision_name"`
	Amount    string `json:"amount"`
	AmountFen int64  `json:"amount_fen"`
	Detail    string `json:"detail"`
	Warning   bool   `json:"warning"`
}

type fenfuRiskBody struct {
	Rows      []fenfuRiskRow `json:"records"`
	Next      string         `json:"next_cursor,omitempty"`
	Warnings  bool           `json:"warnings_only"`
	Query     string         `json:"-"` // the link to the next page keeps the filter and company
	Error     string         `json:"-"`
	Company   string         `json:"-"`
	Available bool           `json:"-"`
}

func (h *Handler) loadFenfuRisk(ctx context.Context, c *call) (fenfuRiskBody, int, string, string) {
	q := c.req.QueryStringParameters
	b := fenfuRiskBody{Warnings: q["warnings"] == "1", Company: c.scopeCompany()}
	if h.FenfuRisk == nil {
		return b, http.StatusNotImplemented, "not_configured", "分付风控记录未配置"
	}
	if b.Company == "" {
		return b, http.StatusBadRequest, "company_required", "请先选择物业公司"
	}
	cursor := q["cursor"]
	if len(cursor) > 200 {
		return b, http.StatusBadRequest, "bad_cursor", "翻页参数无效"
	}
	recs, next, err := h.FenfuRisk.Records(ctx, b.Company, b.Warnings, cursor, fenfuRiskPageSize)
	if err != nil {
		h.Log.ErrorContext(ctx, "fenfu risk records", "err", err)
		return b, http.StatusInternalServerError, "internal", "系统繁忙，请稍后再试"
	}
	full := staff.ScopeOf(c.p.Role, staff.FenfuView) != staff.None
	for _, r := range recs {
		if !full {
			r = r.Masked() // F6: only risk officers read the payer in full
		}
		b.Rows = append(b.Rows, fenfuRiskRow{At: calendar.FormatReadable(r.At), OrderID: r.OrderID, Merchant: r.MerchantID, Payer: r.PayerOpenID,
			Rule: r.Rule, RuleName: ruleNames[r.Rule], Decision: string(r.Decision), Decided: decisionNames[r.Decision],
			Amount: domain.FormatYuan(domain.Fen(r.AmountFen)), AmountFen: r.AmountFen, Detail: r.Detail,
			Warning: r.Decision == fenfu.Warn || r.Decision == fenfu.Hold})
	}
	b.Next, b.Available = next, true
	v := url.Values{}
	if b.Warnings {
		v.Set("warnings", "1")
	}
	if c.p.Role == RoleOperator {
		v.Set("company", b.Company)
	}
	b.Query = v.Encode()
	return b, http.StatusOK, "", ""
}

// fenfuRiskPage is 分付风控: the company's risk decisions, newest first,
// warnings (连续分付, 暂缓结算) marked; ?warnings=1 lists only those.
func (h *Handler) fenfuRiskPage(ctx context.Context, c *call) web.Response {
	b, status, _, msg := h.loadFenfuRisk(ctx, c)
	b.Error = msg
	return h.render(status, "fenfu_risk.html", h.page(c, "分付风控", b))
}

// apiFenfuRisk is GET /admin/api/fenfu/risk (?warnings=1, cursor).
func (h *Handler) apiFenfuRisk(ctx context.Context, c *call) web.Response {
	b, status, code, msg := h.loadFenfuRisk(ctx, c)
	if status != http.StatusOK {
		return web.Error(status, code, msg)
	}
	if b.Rows == nil {
		b.Rows = []fenfuRiskRow{}
	}
	return web.JSON(http.StatusOK, b)
}
