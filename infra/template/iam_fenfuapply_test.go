package template_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// fenfuApplied runs 分付 enablement (F1) through the console: the operator
// reads the queue (the parent index) and the second company's application
// with its checks (the company's communities, the risk list: GetItem),
// rejects it (a conditional Put); the company's admin resubmits it (a
// conditional Put) and the operator approves it — ONE TransactWriteItems of
// two Puts on the DirectoryTable, the interface and the application at
// their versions.
func fenfuApplied(t *testing.T, s *stack.Stack) {
	t.Helper()
	op := stacktest.Console(t, s, "operator", "")
	admin := stacktest.Console(t, s, "admin", stack.SecondCompanyID)
	id := stack.DemoFenfuPendingIfaceID
	form := "application/x-www-form-urlencoded"
	if st, body := op.Call(t, http.MethodGet, "/admin/fenfu-review", "", nil); st != http.StatusOK || !strings.Contains(string(body), "/admin/fenfu-review/"+id) {
		t.Fatalf("分付 queue: %d %.500s", st, body)
	}
	if st, body := op.Call(t, http.MethodGet, "/admin/fenfu-review/"+id, "", nil); st != http.StatusOK {
		t.Fatalf("分付 review: %d %.500s", st, body)
	}
	reject := url.Values{"reasons": {"请补充交易记录证明"}}.Encode()
	if st, body := op.Call(t, http.MethodPost, "/admin/fenfu-review/"+id+"/reject", form, []byte(reject)); st != http.StatusFound {
		t.Fatalf("分付 reject: %d %.500s", st, body)
	}
	resubmit := url.Values{"industry": {"catering"}, "licence_no": {"91310000MA1DEMO002"}, "licence_expiry": {"2030-12-31"},
		"food_licence_no": {"JY13101000000002"}, "store_address": {"示例路 2 号"}, "history_evidence": {"商户平台交易账单 EV-002"},
		"deposit_ack": {"1"}, "op": {"submit"}}.Encode()
	if st, body := admin.Call(t, http.MethodPost, "/admin/fenfu/"+id, form, []byte(resubmit)); st != http.StatusFound {
		t.Fatalf("分付 resubmit: %d %.500s", st, body)
	}
	if st, body := op.Call(t, http.MethodPost, "/admin/fenfu-review/"+id+"/approve", form, nil); st != http.StatusFound {
		t.Fatalf("分付 approve: %d %.500s", st, body)
	}
	if i, err := s.Store().GetInterface(context.Background(), id); err != nil || !i.OffersFenfu() {
		t.Fatalf("after approval: %+v %v", i, err)
	}
}
