package template_test

import (
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// announcementsHeard follows the payments made above through
// AnnounceFunction (收款播报): each is written once for the demo company
// (its conditional PutItem; the community's name read from the directory)
// and the manager's also for the manager; the cashier console's poll and
// the manager's app's poll read them (AdminFunction's Query of
// AnnouncementsTable).
func announcementsHeard(t *testing.T, s *stack.Stack) {
	t.Helper()
	type page struct {
		Items []struct {
			ID            string `json:"id"`
			AmountFen     int64  `json:"amount_fen"`
			CommunityName string `json:"community_name"`
		} `json:"items"`
		Cursor string `json:"cursor"`
	}
	cashier := stacktest.Console(t, s, "cashier", stack.DemoCompanyID)
	var co page
	stacktest.WaitFor(t, "the company's announcements", 20*time.Second, func() bool {
		cashier.GetJSON(t, "/admin/api/announcements", &co)
		return len(co.Items) >= 3
	})
	if co.Items[0].CommunityName == "" || co.Cursor == "" {
		t.Fatalf("announcement without its community's name, or no cursor: %+v", co)
	}
	// A poll's cost: AdminFunction's DynamoDB requests for 10 polls.
	admin := stack.AccessKeyID("AdminFunction")
	count := func() map[string]int {
		m := map[string]int{}
		for _, c := range s.DynamoDB().Calls() {
			if c.Principal == admin {
				m[c.Table+" "+c.Action] += int(c.N)
			}
		}
		return m
	}
	before := count()
	cursor := co.Cursor
	for range 10 {
		var next page
		cashier.GetJSON(t, "/admin/api/announcements?since="+cursor, &next)
		cursor = next.Cursor
	}
	total, queries := 0, 0
	for k, n := range count() {
		d := n - before[k]
		total += d
		if k == s.Tables["AnnouncementsTable"]+" Query" {
			queries += d
		}
		if d > 0 {
			t.Logf("10 polls: %s ×%d", k, d)
		}
	}
	if queries != 10 || total > 20 {
		t.Errorf("10 polls made %d Queries of AnnouncementsTable and %d DynamoDB requests in all, want 10 and at most 20 (one session read each)", queries, total)
	}
	manager := stacktest.Console(t, s, "manager", stack.DemoCompanyID)
	var own page
	stacktest.WaitFor(t, "the manager's announcement", 20*time.Second, func() bool {
		manager.GetJSON(t, "/m/api/announcements", &own)
		return len(own.Items) >= 1
	})
	for _, it := range own.Items {
		if it.AmountFen != 880 {
			t.Fatalf("the manager hears a payment not of their code: %+v", own.Items)
		}
	}
}
