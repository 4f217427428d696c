package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// TestConsoleFenfuEnablement: the operator finds the second company's 分付
// application in 分付审核 and rejects it with a reason; the company's admin
// sees the reason and the check of every rule on 分付 (the page at 390×844
// and 1280×800, no wider than the phone), adds evidence of their WeChat Pay
// history and resubmits; the operator approves and the interface offers 分付.
func TestConsoleFenfuEnablement(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	id := stack.DemoFenfuPendingIfaceID
	opAcc, adminAcc := stacktest.DemoAccount(t, s, "operator", ""), account(t, s, "admin", true)

	op := isolatedTab(t, b, "")
	signIn(t, s, op, opAcc.Phone, opAcc.Password, "/admin/companies")
	open(t, op, s.URLs.Gateway+"/admin/fenfu-review")
	if txt := bodyText(t, op); !strings.Contains(txt, "第二物业服务有限公司") || !strings.Contains(txt, "餐饮服务") {
		t.Fatalf("分付审核:\n%s", txt)
	}
	open(t, op, s.URLs.Gateway+"/admin/fenfu-review/"+id)
	if txt := bodyText(t, op); !strings.Contains(txt, "未通过") || !strings.Contains(txt, "无该商户号的收款记录") {
		t.Fatalf("the review page:\n%s", txt)
	}
	consoleShots(t, op, "fenfu-review")
	fill(t, op, "reasons", map[string]string{"reasons": "请提供近 3 个月的微信支付交易账单"})
	submit(t, op, "reject", `form[action="/admin/fenfu-review/`+id+`/reject"]`)
	if txt := bodyText(t, op); !strings.Contains(txt, "已驳回") {
		t.Fatalf("after rejecting:\n%s", txt)
	}

	admin := isolatedTab(t, b, "")
	signIn(t, s, admin, adminAcc.Phone, adminAcc.Password, "/admin")
	open(t, admin, s.URLs.Gateway+"/admin/fenfu")
	if txt := bodyText(t, admin); !strings.Contains(txt, "已驳回") || !strings.Contains(txt, "5000") {
		t.Fatalf("分付 list:\n%s", txt)
	}
	open(t, admin, s.URLs.Gateway+"/admin/fenfu/"+id)
	if txt := bodyText(t, admin); !strings.Contains(txt, "请提供近 3 个月的微信支付交易账单") || !strings.Contains(txt, "未通过") {
		t.Fatalf("the rejected application:\n%s", txt)
	}
	if run(t, admin, "page width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)) {
		t.Errorf("the 分付 application page is wider than the 390 px screen")
	}
	consoleShots(t, admin, "fenfu-apply")
	fill(t, admin, "evidence", map[string]string{"history_evidence": "商户平台交易账单 2026-06～2026-11（文件 EV-002）"})
	submit(t, admin, "resubmit", `form[action="/admin/fenfu/`+id+`"]`)
	if txt := bodyText(t, admin); !strings.Contains(txt, "已提交审核") || !strings.Contains(txt, "待核实") {
		t.Fatalf("after resubmitting:\n%s", txt)
	}

	open(t, op, s.URLs.Gateway+"/admin/fenfu-review/"+id)
	submit(t, op, "approve", `form[action="/admin/fenfu-review/`+id+`/approve"]`)
	if txt := bodyText(t, op); !strings.Contains(txt, "已开通") {
		t.Fatalf("after approving:\n%s", txt)
	}
	if i, err := s.Store().GetInterface(context.Background(), id); err != nil || !i.OffersFenfu() {
		t.Fatalf("the interface after approval: %+v %v", i, err)
	}
}
