package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/store"
)

func fenfuApp(id, company string) fenfu.Application {
	return fenfu.Application{ID: id, CompanyID: company, MerchantID: "M-wechat", Industry: fenfu.Services,
		LicenceNo: "91310000MA1FL8XQ3K", LicenceExpiry: fenfu.LongTerm, TradeLicence: "物业服务许可",
		DepositAck: true, DepositFen: 200000, Status: fenfu.Draft}
}

func TestFenfuApplicationVersionsAndQueue(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	a := fenfuApp("if-a", "co-1")
	v, err := s.SaveFenfuApplication(ctx, a, 0)
	if err != nil || v != 1 {
		t.Fatalf("create: %d %v", v, err)
	}
	if _, err := s.SaveFenfuApplication(ctx, a, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	if err := a.Submit(fenfu.Facts{Now: now}, "admin-1"); err != nil {
		t.Fatal(err)
	}
	if v, err = s.SaveFenfuApplication(ctx, a, 1); err != nil || v != 2 {
		t.Fatalf("submit: %d %v", v, err)
	}
	if _, err := s.SaveFenfuApplication(ctx, a, 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write at a stale version: %v", err)
	}
	b := fenfuApp("if-b", "co-2")
	if err := b.Submit(fenfu.Facts{Now: now.Add(-time.Hour)}, "admin-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFenfuApplication(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFenfuApplication(ctx, fenfuApp("if-c", "co-2"), 0); err != nil { // a draft
		t.Fatal(err)
	}
	queue, err := s.ListFenfuApplications(ctx, fenfu.Submitted)
	if err != nil || len(queue) != 2 || queue[0].ID != "if-b" || queue[1].ID != "if-a" {
		t.Fatalf("submitted queue (oldest first, across companies): %+v %v", queue, err)
	}
	all, err := s.ListFenfuApplications(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	got, ver, err := s.GetFenfuApplication(ctx, "if-a")
	if err != nil || ver != 2 || got.Status != fenfu.Submitted || len(got.Checks) == 0 || !got.SubmittedAt.Equal(now) {
		t.Fatalf("get: %+v %d %v", got, ver, err)
	}
	if _, _, err := s.GetFenfuApplication(ctx, "if-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
}

func TestApproveFenfuIsOneTransaction(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	wx := store.Interface{ID: "if-wx", CompanyID: "co-1", Channel: domain.WeChat, Status: domain.StatusApproved, Mode: "direct", MchID: "M-wechat", SecretRef: "file://x"}
	if err := s.CreateInterface(ctx, wx); err != nil {
		t.Fatal(err)
	}
	a := fenfuApp("if-wx", "co-1")
	facts := fenfu.Facts{Now: now, FirstPaidAt: now.AddDate(-1, 0, 0)}
	if err := a.Submit(facts, "admin"); err != nil {
		t.Fatal(err)
	}
	v, err := s.SaveFenfuApplication(ctx, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Approve(facts, "op"); err != nil {
		t.Fatal(err)
	}
	// An approval at a stale application version (another decision got
	// there first) is refused and enables nothing.
	if _, _, err := s.ApproveFenfu(ctx, a, v-1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approve at a stale version: %v", err)
	}
	if i, _ := s.GetInterface(ctx, "if-wx"); i.OffersFenfu() {
		t.Fatal("a refused approval enabled 分付")
	}
	if _, _, err := s.ApproveFenfu(ctx, a, v+1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approve at a wrong version: %v", err)
	}
	before, after, err := s.ApproveFenfu(ctx, a, v)
	if err != nil || before.OffersFenfu() || !after.OffersFenfu() {
		t.Fatalf("approve: %v %+v → %+v", err, before, after)
	}
	i, _ := s.GetInterface(ctx, "if-wx")
	got, ver, _ := s.GetFenfuApplication(ctx, "if-wx")
	if !i.OffersFenfu() || got.Status != fenfu.Approved || ver != v+1 {
		t.Fatalf("after approval: iface %q, application %s v%d", i.Fenfu, got.Status, ver)
	}
	if i.MchID != "M-wechat" || i.Status != domain.StatusApproved {
		t.Fatalf("approval changed more than Fenfu: %+v", i)
	}
	// The interface is still listed under its company (parent index kept).
	is, err := s.ListInterfaces(ctx, "co-1")
	if err != nil || len(is) != 1 || !is[0].OffersFenfu() {
		t.Fatalf("list interfaces: %+v %v", is, err)
	}
	// Another company's application cannot enable this interface.
	other := a
	other.CompanyID = "co-2"
	if _, _, err := s.ApproveFenfu(ctx, other, ver); err == nil {
		t.Fatal("approved another company's interface")
	}
}

func TestFenfuRejectionKeepsItOff(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	if err := s.CreateInterface(ctx, store.Interface{ID: "if-wx", CompanyID: "co-1", Channel: domain.WeChat, Mode: "direct", SecretRef: "x"}); err != nil {
		t.Fatal(err)
	}
	a := fenfuApp("if-wx", "co-1")
	if err := a.Submit(fenfu.Facts{Now: now}, "admin"); err != nil {
		t.Fatal(err)
	}
	v, _ := s.SaveFenfuApplication(ctx, a, 0)
	if err := a.Reject([]string{"交易记录证明不足"}, "op", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveFenfuApplication(ctx, a, v); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ApproveFenfu(ctx, a, v+1); err == nil {
		t.Fatal("ApproveFenfu took a rejected application")
	}
	i, _ := s.GetInterface(ctx, "if-wx")
	got, _, _ := s.GetFenfuApplication(ctx, "if-wx")
	if i.OffersFenfu() || got.Status != fenfu.Rejected || got.Reasons[0] != "交易记录证明不足" {
		t.Fatalf("after rejection: %q %+v", i.Fenfu, got)
	}
	if q, _ := s.ListFenfuApplications(ctx, fenfu.Submitted); len(q) != 0 {
		t.Fatalf("a rejected application is still queued: %+v", q)
	}
}

func TestWeChatHistoryFromOurRecords(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	r := s.OrderRepo()
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	ifc := store.Interface{ID: "if-wechat", CompanyID: "co-1", Channel: domain.WeChat}
	for _, c := range []store.Community{
		{ID: "c-h1", CompanyID: "co-1", Name: "一", WeChatIfaceID: "if-wechat"},
		{ID: "c-h2", CompanyID: "co-1", Name: "二", WeChatIfaceID: "if-wechat"},
		{ID: "c-h3", CompanyID: "co-1", Name: "别的接口", WeChatIfaceID: "if-other"},
	} {
		if err := s.CreateCommunity(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// None yet.
	if first, m, err := s.WeChatHistory(ctx, ifc, now); err != nil || !first.IsZero() || m != 0 {
		t.Fatalf("empty: %v %d %v", first, m, err)
	}
	// An Alipay payment long ago does not count; WeChat ones do.
	seedRecord(t, r, "h-ali", "c-h1", domain.Alipay, 100, now.AddDate(-2, 0, 0), false, nil)
	seedRecord(t, r, "h-old", "c-h2", domain.WeChat, 100, now.AddDate(0, -5, 0), false, nil)
	seedRecord(t, r, "h-mid", "c-h1", domain.WeChat, 100, now.AddDate(0, -4, 0), false, nil)
	for k := range 7 { // 7 in the last three months, over both communities
		seedRecord(t, r, fmt.Sprintf("h-new-%d", k), []string{"c-h1", "c-h2"}[k%2], domain.WeChat, 100, now.AddDate(0, 0, -10*k-1), false, nil)
	}
	seedRecord(t, r, "h-3", "c-h3", domain.WeChat, 100, now.AddDate(-1, 0, 0), false, nil) // another community's interface
	first, m, err := s.WeChatHistory(ctx, ifc, now)
	if err != nil || !first.Equal(now.AddDate(0, -5, 0)) || m != 7/3 {
		t.Fatalf("history: first %v, monthly %d, %v", first, m, err)
	}
	f := fenfu.Facts{Now: now, FirstPaidAt: first, MonthlyOrders: m}
	if c := fenfu.Evaluate(fenfuApp("if-wechat", "co-1"), f); !c[1].OK || c[1].Attested {
		t.Fatalf("history check from our records: %+v", c[1])
	}
}

func TestFenfuRiskList(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if l, err := s.FenfuRiskListed(ctx, "M-1"); err != nil || l {
		t.Fatalf("unlisted: %v %v", l, err)
	}
	if err := s.ListFenfuRisk(ctx, "M-1", "央行征信黑名单"); err != nil {
		t.Fatal(err)
	}
	if l, err := s.FenfuRiskListed(ctx, "M-1"); err != nil || !l {
		t.Fatalf("listed: %v %v", l, err)
	}
}

// Two reviewers decide at once, one approving, one rejecting, at the same
// version: exactly one decision is written, and the interface offers 分付
// exactly when the approval won.
func TestFenfuDecisionsRace(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	facts := fenfu.Facts{Now: now, FirstPaidAt: now.AddDate(-1, 0, 0)}
	for round := range 5 {
		id := fmt.Sprintf("if-race-%d", round)
		if err := s.CreateInterface(ctx, store.Interface{ID: id, CompanyID: "co-1", Channel: domain.WeChat, Mode: "direct", SecretRef: "x"}); err != nil {
			t.Fatal(err)
		}
		a := fenfuApp(id, "co-1")
		if err := a.Submit(facts, "admin"); err != nil {
			t.Fatal(err)
		}
		v, err := s.SaveFenfuApplication(ctx, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		approved, rejected := a, a
		if err := approved.Approve(facts, "op-1"); err != nil {
			t.Fatal(err)
		}
		if err := rejected.Reject([]string{"资料不全"}, "op-2", now); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		go func() { _, _, err := s.ApproveFenfu(ctx, approved, v); errs <- err }()
		go func() { _, err := s.SaveFenfuApplication(ctx, rejected, v); errs <- err }()
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("round %d: both or neither written: %v, %v", round, e1, e2)
		}
		got, _, _ := s.GetFenfuApplication(ctx, id)
		i, _ := s.GetInterface(ctx, id)
		if i.OffersFenfu() != (got.Status == fenfu.Approved) {
			t.Fatalf("round %d: application %s, interface fenfu %q", round, got.Status, i.Fenfu)
		}
	}
}
