package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/qrprint"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The managers' collection app's JSON API (issue 11; M3, M4, M6), behind
// the console's session (ep_session, also sent to /m) and the role's Own
// scope: a business manager reads and refreshes their own codes and reads
// their own records, never anyone else's. README "Contracts: /m/api".
//
//	GET  /m/api/code[?code=<id>]   the code to show: {url, expires_at: null, code, payer_fields, qr_svg, …}
//	POST /m/api/code/refresh       a new token for the code ({"code": id} or ?code=; the default when absent):
//	                               the same shape, plus previous {url, expires_at} and codes (the list re-synced)
//	GET  /m/api/codes              {codes: [{id, name, url, kind, preset}]}, the default first
//	GET  /m/api/records            ?q=&before=YYYY-MM-DD&cursor= → {records: [...], next}: 15 a page, newest first
//	GET  /m/api/records/{id}       one record with its refunds

// ManagerApp is what the managers' API reads and writes.
type ManagerApp struct {
	Store   *store.Store  // directory: codes, communities, payer fields
	Orders  *store.Orders // the collector index, orders
	Refunds interface {
		OrderRefunds(ctx context.Context, o order.Order) ([]refund.Refund, error)
	}
	PublicBaseURL string
	Now           func() time.Time
	NewToken      func() string // a new code token (nil: newCodeToken)
}

func (m *ManagerApp) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *ManagerApp) newToken() string {
	if m.NewToken != nil {
		return m.NewToken()
	}
	return newCodeToken()
}

// managerApp is the app, or a 501 answer when the console has none, or a
// 403 for a caller outside any company.
func (h *Handler) managerApp(c *call) (*ManagerApp, web.Response, bool) {
	if h.Managers == nil {
		return nil, h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线"), false
	}
	if c.p.CompanyID == "" || c.p.StaffID == "" {
		return nil, h.fail(c, http.StatusForbidden, "forbidden", "没有权限"), false
	}
	return h.Managers, web.Response{}, true
}

// ---------------------------------------------------------------- JSON shapes

// MobileCode is one of a manager's codes.
type MobileCode struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Kind   string            `json:"kind"` // "default" | "extra"
	URL    string            `json:"url,omitempty"`
	Preset map[string]string `json:"preset"` // {} when none
}

// MobilePayerField is a field the customer's page shows, with its preset
// value when the code sets it (then locked there).
type MobilePayerField struct {
	domain.PayerField
	Preset string `json:"preset,omitempty"`
}

// MobileCodeAnswer is GET /m/api/code and POST /m/api/code/refresh.
type MobileCodeAnswer struct {
	URL         string             `json:"url"`
	ExpiresAt   *string            `json:"expires_at"` // null: the current token, no end
	Code        MobileCode         `json:"code"`
	PayerFields []MobilePayerField `json:"payer_fields"`
	QRSVG       string             `json:"qr_svg"` // the code as inline SVG (what the phone shows)
	Company     string             `json:"company"`
	Community   string             `json:"community"`
	Manager     string             `json:"manager"`
	// Refresh only: the token replaced and when it stops paying, and the
	// list of codes as it is now (切换 re-synced).
	Previous *MobilePrevious `json:"previous,omitempty"`
	Codes    []MobileCode    `json:"codes,omitempty"`
}

// MobilePrevious is the token a refresh replaced.
type MobilePrevious struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"` // RFC 3339, +08:00
}

// MobileRecord is one payment through the manager's codes.
type MobileRecord struct {
	ID          string            `json:"id"`
	CreatedAt   string            `json:"created_at"` // RFC 3339, +08:00
	PaidAt      string            `json:"paid_at"`
	AmountFen   int64             `json:"amount_fen"`
	Amount      string            `json:"amount"` // yuan, "12.34"
	Channel     string            `json:"channel"`
	ChannelName string            `json:"channel_name"`
	Status      string            `json:"status"` // PAID | REFUNDED
	StatusText  string            `json:"status_text"`
	PayerFields map[string]string `json:"payer_fields"`
	RefundedFen int64             `json:"refunded_fen"`
}

// MobileRecordDetail is one record with the payer fields' labels (in the
// configured order) and its refunds, oldest first.
type MobileRecordDetail struct {
	MobileRecord
	Fields  []MobileField  `json:"fields"`
	Refunds []MobileRefund `json:"refunds"`
}

// MobileField is a payer field's label and value.
type MobileField struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value string `json:"value"`
}

// MobileRefund is a refund of a record.
type MobileRefund struct {
	ID          string `json:"id"`
	AmountFen   int64  `json:"amount_fen"`
	Status      string `json:"status"` // REQUESTED | PROCESSING | SUCCEEDED | FAILED
	StatusText  string `json:"status_text"`
	Reason      string `json:"reason"`
	CreatedAt   string `json:"created_at"`
	SucceededAt string `json:"succeeded_at,omitempty"`
}

func codeKind(c managercode.Code) string {
	if c.IsDefault() {
		return "default"
	}
	return "extra"
}

func (m *ManagerApp) mobileCode(c managercode.Code, withURL bool) MobileCode {
	out := MobileCode{ID: c.ID, Name: c.Name, Kind: codeKind(c), Preset: c.Preset}
	if out.Preset == nil {
		out.Preset = map[string]string{}
	}
	if withURL {
		out.URL = qrprint.CodeURL(m.PublicBaseURL, c.Token)
	}
	return out
}

func (m *ManagerApp) codeList(set managercode.Set) []MobileCode {
	out := []MobileCode{}
	for _, c := range set.Codes() {
		out = append(out, m.mobileCode(c, true))
	}
	return out
}

// answer describes code c of set for the phone.
func (m *ManagerApp) answer(ctx context.Context, set managercode.Set, c managercode.Code, manager string) (MobileCodeAnswer, error) {
	col, err := m.Store.LoadCommunity(ctx, set.CommunityID)
	if err != nil {
		return MobileCodeAnswer{}, err
	}
	url := qrprint.CodeURL(m.PublicBaseURL, c.Token)
	svg, err := qrprint.Symbol(url, "qr")
	if err != nil {
		return MobileCodeAnswer{}, err
	}
	out := MobileCodeAnswer{URL: url, Code: m.mobileCode(c, false), QRSVG: string(svg), PayerFields: []MobilePayerField{},
		Company: col.Company.Name, Community: col.Community.Name, Manager: manager}
	for _, f := range col.PayerFields() {
		out.PayerFields = append(out.PayerFields, MobilePayerField{PayerField: f, Preset: c.Preset[f.Key]})
	}
	return out, nil
}

// ---------------------------------------------------------------- codes

// ensureSet returns the caller's codes, issuing the default code the first
// time (M3: 第一次申请了收款码后 … 一直使用此收款码): it pays through the
// company's community that accepts the most apps (both, then either, then
// the first), a choice admins can see on the console's manager codes page.
func (h *Handler) ensureSet(ctx context.Context, m *ManagerApp, p Principal) (managercode.Set, error) {
	return m.ensureSet(ctx, p.StaffID, p.CompanyID, p.Name)
}

// ensureSet returns staffID's codes, issuing the default code when there
// are none yet (the manager's first use, or an admin configuring their
// codes first).
func (m *ManagerApp) ensureSet(ctx context.Context, staffID, companyID, name string) (managercode.Set, error) {
	set, err := m.Store.GetManagerCodes(ctx, staffID)
	if !errors.Is(err, store.ErrNotFound) {
		return set, err
	}
	community, err := collectingCommunity(ctx, m.Store, companyID)
	if err != nil {
		return set, err
	}
	set, err = managercode.New(staffID, companyID, community, m.newToken(), m.now())
	if err != nil {
		return set, err
	}
	if err := m.Store.CreateManagerCodes(ctx, set, name); errors.Is(err, store.ErrExists) {
		return m.Store.GetManagerCodes(ctx, staffID) // issued by a request at the same time
	} else if err != nil {
		return set, err
	}
	return set, nil
}

// errNoCommunity: the company has no community to collect through yet.
var errNoCommunity = errors.New("the company has no community")

// collectingCommunity picks the community a manager's new codes pay
// through: the one of the company accepting both apps, else one app, else
// the first (by id, so the choice is stable).
func collectingCommunity(ctx context.Context, st *store.Store, companyID string) (string, error) {
	cs, err := st.ListCommunities(ctx, companyID)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "", errNoCommunity
	}
	slices.SortFunc(cs, func(a, b store.Community) int { return strings.Compare(a.ID, b.ID) })
	best, bestScore := cs[0].ID, -1
	for _, cm := range cs {
		col, err := st.LoadCommunity(ctx, cm.ID)
		if err != nil {
			return "", err
		}
		score := 0
		if a := col.Availability(); a.WeChat && a.Alipay {
			score = 2
		} else if a.Any() {
			score = 1
		}
		if score > bestScore {
			best, bestScore = cm.ID, score
		}
	}
	return best, nil
}

func (h *Handler) setFailed(ctx context.Context, c *call, err error) web.Response {
	if errors.Is(err, errNoCommunity) {
		return h.fail(c, http.StatusConflict, "no_community", "公司还没有可收款的小区，请联系管理员")
	}
	return h.internal(ctx, c, "manager codes", err)
}

// apiMyCode is GET /m/api/code[?code=<id>].
func (h *Handler) apiMyCode(ctx context.Context, c *call) web.Response {
	m, resp, ok := h.managerApp(c)
	if !ok {
		return resp
	}
	set, err := h.ensureSet(ctx, m, c.p)
	if err != nil {
		return h.setFailed(ctx, c, err)
	}
	code, found := set.Find(c.req.QueryStringParameters["code"])
	if !found {
		return h.fail(c, http.StatusNotFound, "not_found", "该收款码不存在或已被管理员停用，请刷新")
	}
	out, err := m.answer(ctx, set, code, c.p.Name)
	if err != nil {
		return h.internal(ctx, c, "code answer", err)
	}
	return noStore(web.JSON(http.StatusOK, out))
}

// apiMyCodes is GET /m/api/codes.
func (h *Handler) apiMyCodes(ctx context.Context, c *call) web.Response {
	m, resp, ok := h.managerApp(c)
	if !ok {
		return resp
	}
	set, err := h.ensureSet(ctx, m, c.p)
	if err != nil {
		return h.setFailed(ctx, c, err)
	}
	return noStore(web.JSON(http.StatusOK, map[string]any{"codes": m.codeList(set)}))
}

// apiMyRefresh is POST /m/api/code/refresh: the code (the default when
// none is named) gets a new token in one transaction with the old token's
// end, refresh + 3 h (managercode.Grace). The answer is the new code, the
// replaced token and the list of codes as it is now.
func (h *Handler) apiMyRefresh(ctx context.Context, c *call) web.Response {
	m, resp, ok := h.managerApp(c)
	if !ok {
		return resp
	}
	id := c.req.QueryStringParameters["code"]
	if len(strings.TrimSpace(string(c.body))) > 0 {
		var in struct {
			Code string `json:"code"`
		}
		if !decodeJSON(c, &in) {
			return h.fail(c, http.StatusBadRequest, "invalid", "请求须为 JSON：{\"code\": 收款码 id}（可省略）")
		}
		if in.Code != "" {
			id = in.Code
		}
	}
	if _, err := h.ensureSet(ctx, m, c.p); err != nil {
		return h.setFailed(ctx, c, err)
	}
	var replaced managercode.Superseded
	at := m.now()
	before, after, err := m.Store.ChangeManagerCodes(ctx, c.p.StaffID, c.p.Name, func(s *managercode.Set) ([]managercode.Superseded, error) {
		old, err := s.Refresh(id, m.newToken(), at)
		replaced = old
		return []managercode.Superseded{old}, err
	})
	switch {
	case errors.Is(err, managercode.ErrNotFound):
		return h.fail(c, http.StatusNotFound, "not_found", "该收款码不存在或已被管理员停用，请刷新")
	case errors.Is(err, store.ErrConflict):
		return h.fail(c, http.StatusConflict, "conflict", "收款码正在被修改，请稍后重试")
	case err != nil:
		return h.internal(ctx, c, "refresh code", err)
	}
	code, _ := after.Find(id)
	out, err := m.answer(ctx, after, code, c.p.Name)
	if err != nil {
		return h.internal(ctx, c, "code answer", err)
	}
	out.Previous = &MobilePrevious{URL: qrprint.CodeURL(m.PublicBaseURL, replaced.Token), ExpiresAt: calendar.Format(replaced.ValidUntil)}
	out.Codes = m.codeList(after)
	h.audit(ctx, c, "code.refresh", "manager_code", c.p.StaffID+"/"+code.ID,
		map[string]any{"token_prefix": prefix(replaced.Token)}, map[string]any{"token_prefix": prefix(code.Token), "previous_valid_until": calendar.Format(replaced.ValidUntil), "version": before.Version + 1})
	return noStore(web.JSON(http.StatusOK, out))
}

// prefix is the part of a token the audit log keeps (enough to tell codes
// apart, not enough to pay one).
func prefix(token string) string {
	if len(token) > 6 {
		return token[:6] + "…"
	}
	return token
}

// ---------------------------------------------------------------- records

func (m *ManagerApp) record(o order.Order) MobileRecord {
	r := MobileRecord{ID: o.ID, CreatedAt: shanghai(o.CreatedAt), PaidAt: shanghai(o.PaidAt), AmountFen: o.AmountFen, Amount: domain.FormatYuan(o.AmountFen),
		Channel: string(o.Channel), ChannelName: o.Channel.Name(), Status: string(o.Status), PayerFields: o.Fields, RefundedFen: refundedFen(o)}
	if r.PayerFields == nil {
		r.PayerFields = map[string]string{}
	}
	switch {
	case o.Status == order.Refunded:
		r.StatusText = "已退款"
	case o.RefundedFen > 0:
		r.StatusText = "部分退款"
	case o.RefundFen > 0:
		r.StatusText = "退款中"
	default:
		r.StatusText = "已支付"
	}
	return r
}

// apiMyRecords is GET /m/api/records: the caller's payments, one Query of
// the collector index a page (shared/store.QueryCollected).
func (h *Handler) apiMyRecords(ctx context.Context, c *call) web.Response {
	m, resp, ok := h.managerApp(c)
	if !ok {
		return resp
	}
	q := c.req.QueryStringParameters
	f := store.CollectedFilter{Keyword: strings.TrimSpace(q["q"]), Before: calendar.Day(strings.TrimSpace(q["before"]))}
	page, err := m.Orders.QueryCollected(ctx, c.p.CompanyID, c.p.StaffID, f, q["cursor"])
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return h.fail(c, http.StatusBadRequest, "bad_cursor", "翻页位置无效，请从头查看")
	case errors.Is(err, store.ErrBadFilter):
		return h.fail(c, http.StatusBadRequest, "invalid", store.FilterMessage(err))
	case err != nil:
		return h.internal(ctx, c, "collected records", err)
	}
	out := struct {
		Records []MobileRecord `json:"records"`
		Next    *string        `json:"next"`
	}{Records: []MobileRecord{}}
	for _, o := range page.Orders {
		out.Records = append(out.Records, m.record(o))
	}
	if page.Next != "" {
		out.Next = &page.Next
	}
	return noStore(web.JSON(http.StatusOK, out))
}

// apiMyRecord is GET /m/api/records/{id}: one of the caller's payments
// with its fields' labels and its refunds; anyone else's (another manager's,
// a community code's, another company's, an unpaid order) is 404.
func (h *Handler) apiMyRecord(ctx context.Context, c *call) web.Response {
	m, resp, ok := h.managerApp(c)
	if !ok {
		return resp
	}
	id := c.params["id"]
	if len(id) > 64 || !domain.IsURLSafe(id, 1, 64) {
		return h.notFound(c)
	}
	o, err := m.Orders.Get(ctx, id)
	if errors.Is(err, order.ErrNotFound) || (err == nil && (o.CompanyID != c.p.CompanyID || o.CollectorID != c.p.StaffID || o.PaidAt.IsZero())) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "get order", err)
	}
	r := MobileRecordDetail{MobileRecord: m.record(o), Fields: []MobileField{}}
	shown := map[string]bool{}
	if col, err := m.Store.LoadCommunity(ctx, o.CommunityID); err == nil {
		for _, f := range col.PayerFields() {
			if v := o.Fields[f.Key]; v != "" {
				r.Fields = append(r.Fields, MobileField{Key: f.Key, Label: f.Label, Value: v})
				shown[f.Key] = true
			}
		}
	}
	keys := make([]string, 0, len(o.Fields))
	for k := range o.Fields {
		if !shown[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys { // values of fields no longer configured
		r.Fields = append(r.Fields, MobileField{Key: k, Label: k, Value: o.Fields[k]})
	}
	r.Refunds = []MobileRefund{}
	if m.Refunds != nil {
		rfs, err := m.Refunds.OrderRefunds(ctx, o)
		if err != nil {
			return h.internal(ctx, c, "order refunds", err)
		}
		for _, rf := range rfs {
			r.Refunds = append(r.Refunds, MobileRefund{ID: rf.ID, AmountFen: rf.AmountFen, Status: string(rf.Status), StatusText: refundStatusText(rf.Status),
				Reason: rf.Reason, CreatedAt: shanghai(rf.CreatedAt), SucceededAt: shanghai(rf.SucceededAt)})
		}
	}
	return noStore(web.JSON(http.StatusOK, r))
}

func refundStatusText(s refund.Status) string {
	switch s {
	case refund.Succeeded:
		return "已退款"
	case refund.Failed:
		return "退款失败"
	}
	return "退款中"
}

// noStore keeps a personal answer out of caches.
func noStore(r web.Response) web.Response {
	r.Headers["Cache-Control"] = "no-store"
	return r
}
