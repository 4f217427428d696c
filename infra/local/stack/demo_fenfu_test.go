package stack_test

import (
	"context"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
)

// The demo WeChat Pay merchant offers 分付 (its application APPROVED); the
// second company's application waits in the operator's queue; a restart
// keeps what people did (the pending one rejected stays rejected).
func TestDemoFenfu(t *testing.T) {
	dir := t.TempDir()
	for restart := range 2 {
		s := stacktest.Start(t, stacktest.Options{StateDir: dir})
		ctx := context.Background()
		i, err := s.Store().GetInterface(ctx, "demo-wechat")
		if err != nil || !i.OffersFenfu() {
			t.Fatalf("demo-wechat: %+v %v", i, err)
		}
		a, _, err := s.Store().GetFenfuApplication(ctx, "demo-wechat")
		if err != nil || a.Status != fenfu.Approved || a.CompanyID != stack.DemoCompanyID {
			t.Fatalf("demo application: %+v %v", a, err)
		}
		q, err := s.Store().ListFenfuApplications(ctx, fenfu.Submitted)
		if restart == 1 {
			if p, _, _ := s.Store().GetFenfuApplication(ctx, stack.DemoFenfuPendingIfaceID); len(q) != 0 || p.Status != fenfu.Rejected {
				t.Fatalf("after a restart: queue %+v, the rejected one %s", q, p.Status)
			}
		} else if err != nil || len(q) != 1 || q[0].ID != stack.DemoFenfuPendingIfaceID || q[0].CompanyID != stack.SecondCompanyID {
			t.Fatalf("queue: %+v %v", q, err)
		} else {
			p, v, _ := s.Store().GetFenfuApplication(ctx, stack.DemoFenfuPendingIfaceID)
			if err := p.Reject([]string{"演示驳回"}, "demo-operator", p.SubmittedAt); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Store().SaveFenfuApplication(ctx, p, v); err != nil {
				t.Fatal(err)
			}
		}
		p, err := s.Store().GetInterface(ctx, stack.DemoFenfuPendingIfaceID)
		if err != nil || p.OffersFenfu() || p.CompanyID != stack.SecondCompanyID {
			t.Fatalf("pending interface: %+v %v", p, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
