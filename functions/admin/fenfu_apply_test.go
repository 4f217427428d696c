package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// fenfuForm is a complete 生活服务 application.
func fenfuForm(kv ...string) rq {
	r := post("/admin/fenfu/if-wx-a", "industry", "services", "licence_no", "91310000ma1fl8xq3k", "licence_expiry", "长期",
		"trade_licence", "物业服务企业资质证书 沪物 2024-001", "deposit_ack", "1", "op", "submit")
	for i := 0; i+1 < len(kv); i += 2 {
		r.form.Set(kv[i], kv[i+1])
	}
	return r
}

func TestFenfuApplyReviewApprove(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	fenfuNow = func() time.Time { return now }
	t.Cleanup(func() { fenfuNow = time.Now })
	ctx := context.Background()
	admin, op := f.login("admin-a"), f.login("op")

	// The admin's list: the company's WeChat interfaces only.
	r := f.as(admin, get("/admin/fenfu"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "if-wx-a") || strings.Contains(r.Body, "if-ali-a") || strings.Contains(r.Body, "if-wx-b") ||
		!strings.Contains(r.Body, "未申请") || !strings.Contains(r.Body, "5000") || !strings.Contains(r.Body, `href="/admin/fenfu"`) {
		t.Fatalf("list: %d %s", r.StatusCode, r.Body)
	}
	for _, p := range []string{"/admin/fenfu/if-ali-a", "/admin/fenfu/if-wx-b"} {
		if r := f.as(admin, get(p)); r.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, r.StatusCode)
		}
	}
	// Who may: admins apply, the operator reviews, nobody else either.
	for _, c := range []struct {
		who, path string
		status    int
	}{{"cashier-a", "/admin/fenfu", 403}, {"risk-a", "/admin/fenfu", 403}, {"manager-a", "/admin/fenfu", 403}, {"op", "/admin/fenfu/if-wx-a", 403},
		{"admin-a", "/admin/fenfu-review", 403}, {"risk-a", "/admin/fenfu-review", 403}, {"op", "/admin/fenfu-review", 200}} {
		s, ok := map[string]session{"admin-a": admin, "op": op}[c.who]
		if !ok {
			s = f.login(c.who)
		}
		if r := f.as(s, get(c.path)); r.StatusCode != c.status {
			t.Errorf("%s GET %s: %d, want %d", c.who, c.path, r.StatusCode, c.status)
		}
	}

	// Submitting needs the deposit acknowledged.
	if r := f.as(admin, fenfuForm("deposit_ack", "")); r.StatusCode != 400 || !strings.Contains(r.Body, "风险保证金") {
		t.Fatalf("submit without deposit: %d %s", r.StatusCode, r.Body)
	}
	// A draft first, with markup in a field (escaped on every page).
	if r := f.as(admin, fenfuForm("op", "save", "store_address", "<b>门店</b>")); r.StatusCode != 302 {
		t.Fatalf("save draft: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, get("/admin/fenfu/if-wx-a"))
	if !strings.Contains(r.Body, "草稿") || strings.Contains(r.Body, "<b>门店") || !strings.Contains(r.Body, "&lt;b&gt;门店") ||
		!strings.Contains(r.Body, "无该商户号的收款记录") || !strings.Contains(r.Body, "未通过") {
		t.Fatalf("draft page: %s", r.Body)
	}
	// Submitted with no history of ours and no evidence: the check says so.
	if r := f.as(admin, fenfuForm()); r.StatusCode != 302 || !strings.Contains(r.Headers["Location"], "done=fenfu_submitted") {
		t.Fatalf("submit: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	a, _, err := f.st.GetFenfuApplication(ctx, "if-wx-a")
	if err != nil || a.Status != fenfu.Submitted || a.LicenceNo != "91310000MA1FL8XQ3K" || a.DepositFen != 200000 || a.SubmittedBy != "admin-a" || fenfu.Passed(a.Checks) {
		t.Fatalf("submitted: %+v %v", a, err)
	}
	if r := f.as(admin, fenfuForm()); r.StatusCode != http.StatusConflict {
		t.Fatalf("edit while under review: %d", r.StatusCode)
	}

	// The operator's queue, across companies; approval refused on a failing rule.
	r = f.as(op, get("/admin/fenfu-review"))
	if !strings.Contains(r.Body, "物业A") || !strings.Contains(r.Body, "190a") || !strings.Contains(r.Body, "生活服务") {
		t.Fatalf("queue: %s", r.Body)
	}
	r = f.as(op, get("/admin/fenfu-review/if-wx-a"))
	if !strings.Contains(r.Body, "批准开通") || !strings.Contains(r.Body, " disabled") || !strings.Contains(r.Body, "驳回") {
		t.Fatalf("review page: %s", r.Body)
	}
	if r := f.as(op, post("/admin/fenfu-review/if-wx-a/approve")); r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, "不足连续 3 个月") {
		t.Fatalf("approve a failing application: %d %s", r.StatusCode, r.Body)
	}
	if i, _ := f.st.GetInterface(ctx, "if-wx-a"); i.OffersFenfu() {
		t.Fatal("refused approval enabled 分付")
	}
	// Rejected with reasons, which the admin sees; reasons are required.
	if r := f.as(op, post("/admin/fenfu-review/if-wx-a/reject", "reasons", " \n ")); r.StatusCode != 400 {
		t.Fatalf("reject without reasons: %d", r.StatusCode)
	}
	if r := f.as(op, post("/admin/fenfu-review/if-wx-a/reject", "reasons", "请提供近 3 个月交易账单\n保证金未到账")); r.StatusCode != 302 {
		t.Fatalf("reject: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, get("/admin/fenfu/if-wx-a"))
	if !strings.Contains(r.Body, "已驳回") || !strings.Contains(r.Body, "请提供近 3 个月交易账单") || !strings.Contains(r.Body, "保证金未到账") || !strings.Contains(r.Body, "提交审核") {
		t.Fatalf("rejected page: %s", r.Body)
	}
	if i, _ := f.st.GetInterface(ctx, "if-wx-a"); i.OffersFenfu() {
		t.Fatal("rejection enabled 分付")
	}

	// Resubmitted with evidence (attested), then approved: one transaction
	// enables the interface.
	if r := f.as(admin, fenfuForm("history_evidence", "商户平台交易账单 2026-06～2026-11，文件 EV-001")); r.StatusCode != 302 {
		t.Fatalf("resubmit: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(op, get("/admin/fenfu-review/if-wx-a"))
	if !strings.Contains(r.Body, "待核实") || strings.Contains(r.Body, " disabled") || !strings.Contains(r.Body, "第 2 次提交") ||
		!strings.Contains(r.Body, "上次驳回原因：请提供近 3 个月交易账单；保证金未到账") {
		t.Fatalf("review page after resubmission: %s", r.Body)
	}
	before := f.acc.recordCount()
	if r := f.as(op, post("/admin/fenfu-review/if-wx-a/approve")); r.StatusCode != 302 {
		t.Fatalf("approve: %d %s", r.StatusCode, r.Body)
	}
	i, _ := f.st.GetInterface(ctx, "if-wx-a")
	a, _, _ = f.st.GetFenfuApplication(ctx, "if-wx-a")
	if !i.OffersFenfu() || a.Status != fenfu.Approved || a.DecidedBy != "op" || !a.DecidedAt.Equal(now) {
		t.Fatalf("approved: %q %+v", i.Fenfu, a)
	}
	var actions []string
	for _, rec := range f.acc.records[before:] {
		actions = append(actions, rec.action)
	}
	if strings.Join(actions, ",") != "fenfu.approve,interface.fenfu" {
		t.Fatalf("audit: %v", actions)
	}
	if r := f.as(op, post("/admin/fenfu-review/if-wx-a/approve")); r.StatusCode != http.StatusConflict {
		t.Fatalf("approve twice: %d", r.StatusCode)
	}
	if r := f.as(admin, fenfuForm()); r.StatusCode != http.StatusConflict {
		t.Fatalf("edit an approved application: %d", r.StatusCode)
	}
	r = f.as(admin, get("/admin/fenfu"))
	if !strings.Contains(r.Body, "已开通") {
		t.Fatalf("list after approval: %s", r.Body)
	}
	if r := f.as(op, get("/admin/fenfu-review?status=APPROVED")); !strings.Contains(r.Body, "190a") {
		t.Fatalf("approved tab: %s", r.Body)
	}
	if r := f.as(op, get("/admin/fenfu-review")); strings.Contains(r.Body, "190a") {
		t.Fatalf("an approved application still queued: %s", r.Body)
	}
}

func TestFenfuHistoryAndRiskListFromOurRecords(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	fenfuNow = func() time.Time { return now }
	t.Cleanup(func() { fenfuNow = time.Now })
	admin, op := f.login("admin-b"), f.login("op")
	// Company B's WeChat interface has collected since five months ago.
	paid := now.AddDate(0, -5, 0)
	stacktest.SeedOrder(t, f.st, order.Order{ID: "EPFENFUHIST0000000000000001", CommunityID: cmB, CompanyID: coB, CodeToken: "t", Channel: domain.WeChat,
		IfaceID: "if-wx-b", MerchantID: "190b", AppID: "wxb", AmountFen: 100, RequestHash: "h"}, paid.Add(-time.Minute), paid)
	r := f.as(admin, get("/admin/fenfu/if-wx-b"))
	if !strings.Contains(r.Body, "本平台记录：首笔微信支付收款 "+paid.In(time.FixedZone("", 8*3600)).Format("2006-01-02")) {
		t.Fatalf("history from our records: %s", r.Body)
	}
	if r := f.as(op, get("/admin/fenfu-review/if-wx-b")); r.StatusCode != 404 {
		t.Fatalf("review of an application never made: %d", r.StatusCode)
	}
	long := fenfuForm("op", "save", "store_address", strings.Repeat("路", 201))
	long.path = "/admin/fenfu/if-wx-b"
	if r := f.as(admin, long); r.StatusCode != 400 || !strings.Contains(r.Body, "最多 200 个字") {
		t.Fatalf("a too long field: %d %s", r.StatusCode, r.Body)
	}
	draft := fenfuForm("op", "save")
	draft.path = "/admin/fenfu/if-wx-b"
	if r := f.as(admin, draft); r.StatusCode != 302 {
		t.Fatalf("draft: %d", r.StatusCode)
	}
	if r := f.as(op, get("/admin/fenfu-review/if-wx-b")); r.StatusCode != 404 {
		t.Fatalf("the operator reads a draft: %d", r.StatusCode)
	}
	post := fenfuForm()
	post.path = "/admin/fenfu/if-wx-b"
	if r := f.as(admin, post); r.StatusCode != 302 {
		t.Fatalf("submit: %d %s", r.StatusCode, r.Body)
	}
	// Put on the risk list before the decision: approval refused.
	if err := f.st.ListFenfuRisk(context.Background(), "190b", "测试"); err != nil {
		t.Fatal(err)
	}
	if r := f.as(op, postTo("/admin/fenfu-review/if-wx-b/approve")); r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, "风险名录") {
		t.Fatalf("approve a risk-listed merchant: %d %s", r.StatusCode, r.Body)
	}
	if i, _ := f.st.GetInterface(context.Background(), "if-wx-b"); i.OffersFenfu() {
		t.Fatal("risk-listed merchant enabled")
	}
}

func postTo(path string) rq { return post(path) }
