package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/store"
)

func TestFenfuRiskForRiskOfficersOnly(t *testing.T) {
	f := newFixture(t)
	repo := &store.Fenfu{DB: f.st.DB, Table: "FenfuTable"}
	f.h.FenfuRisk = repo
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	for _, r := range []fenfu.RiskRecord{
		{ID: "o1#three_in_a_row", CompanyID: coA, OrderID: "o1", PayerOpenID: "oPayerA", Rule: fenfu.RuleInARow, Decision: fenfu.Warn, Detail: "同一付款人连续第 3 次使用分付付款", AmountFen: 2000, At: at},
		{ID: "o0#night_large", CompanyID: coA, OrderID: "o0", PayerOpenID: "oPayerA", Rule: fenfu.RuleNightLarge, Decision: fenfu.Allow, AmountFen: 2000, At: at.Add(-time.Minute)},
		{ID: "ob#three_in_a_row", CompanyID: coB, OrderID: "ob", PayerOpenID: "oPayerB", Rule: fenfu.RuleInARow, Decision: fenfu.Warn, AmountFen: 2000, At: at},
	} {
		if err := repo.PutRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	risk := f.login("risk-a")
	page := f.as(risk, rq{method: http.MethodGet, path: "/admin/fenfu/risk"})
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "连续分付") || !strings.Contains(page.Body, "oPayerA") ||
		strings.Contains(page.Body, "oPayerB") || !strings.Contains(page.Body, "<strong>预警</strong>") {
		t.Fatalf("risk officer's page: %d %.2000s", page.StatusCode, page.Body)
	}
	r := f.as(risk, rq{method: http.MethodGet, path: "/admin/api/fenfu/risk", query: map[string]string{"warnings": "1"}})
	var out fenfuRiskBody
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &out) != nil || len(out.Rows) != 1 || out.Rows[0].OrderID != "o1" || !out.Rows[0].Warning {
		t.Fatalf("warnings API: %d %s", r.StatusCode, r.Body)
	}
	// F6: a cashier or an admin reads the records with the payer masked,
	// never in full; a manager not at all.
	for _, who := range []string{"cashier-a", "admin-a"} {
		r := f.as(f.login(who), rq{method: http.MethodGet, path: "/admin/api/fenfu/risk"})
		if r.StatusCode != http.StatusOK || strings.Contains(r.Body, "oPayerA") || !strings.Contains(r.Body, fenfu.MaskOpenID("oPayerA")) {
			t.Errorf("%s reads 分付 risk records: %d %s", who, r.StatusCode, r.Body)
		}
		if p := f.as(f.login(who), rq{method: http.MethodGet, path: "/admin/fenfu/risk"}); p.StatusCode != http.StatusOK || strings.Contains(p.Body, "oPayerA") {
			t.Errorf("%s's page shows the payer in full: %d", who, p.StatusCode)
		}
	}
	if r := f.as(f.login("manager-a"), rq{method: http.MethodGet, path: "/admin/api/fenfu/risk"}); r.StatusCode != http.StatusForbidden || strings.Contains(r.Body, "oPayer") {
		t.Errorf("a manager reads 分付 risk records: %d %s", r.StatusCode, r.Body)
	}
}
