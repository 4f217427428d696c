package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
)

// A manager's code pays with the manager as the order's collector; after a
// refresh the replaced code still pays 2:59:59 later and is refused 3:00:00
// later (injected clock); an extra code's preset values are the payment's,
// whatever the payer sent for them.
func TestManagerCodeGracePresetCollector(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := e.st.UpdateCompany(ctx, "co-1", func(c *store.Company) error {
		c.PayerFields = domain.PayerFields{
			{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true},
			{Key: "contract", Label: "合同编号", Type: domain.FieldNumber},
		}
		return nil
	})
	must(err)
	set, err := managercode.New("mgr-1", "co-1", "com-both", "tokMgrDefault0000000000001", e.clock())
	must(err)
	must(e.st.CreateManagerCodes(ctx, set, "张经理"))
	pay := func(tok, key string, fields map[string]string) (payments.Created, error) {
		return e.svc.CreateOrder(ctx, payments.CreateRequest{Token: tok, Channel: domain.Alipay, AmountFen: 1234, IdempotencyKey: key, Fields: fields})
	}
	c, err := pay(set.Default.Token, "key-manager-000000001", map[string]string{"company": "甲公司"})
	must(err)
	if c.Order.CollectorID != "mgr-1" || c.Order.CompanyID != "co-1" || c.Order.Fields["company"] != "甲公司" || c.Order.Description != "物业 业务收款" {
		t.Fatalf("order through the manager's code: %+v", c.Order)
	}

	refreshedAt := e.clock()
	_, _, err = e.st.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(s *managercode.Set) ([]managercode.Superseded, error) {
		old, err := s.Refresh("", "tokMgrDefault0000000000002", refreshedAt)
		return []managercode.Superseded{old}, err
	})
	must(err)
	e.advance(2*time.Hour + 59*time.Minute + 59*time.Second)
	if _, err := pay(set.Default.Token, "key-manager-000000002", map[string]string{"company": "甲公司"}); err != nil {
		t.Fatalf("2:59:59 after the refresh: %v", err)
	}
	e.advance(time.Second)
	if _, err := pay(set.Default.Token, "key-manager-000000003", map[string]string{"company": "甲公司"}); !errors.Is(err, payments.ErrCodeExpired) {
		t.Fatalf("3:00:00 after the refresh: %v, want ErrCodeExpired", err)
	}
	if _, err := pay("tokMgrDefault0000000000002", "key-manager-000000004", map[string]string{"company": "甲公司"}); err != nil {
		t.Fatalf("the new code: %v", err)
	}

	// An extra code presetting the company: the payer's value for it is ignored.
	_, _, err = e.st.ChangeManagerCodes(ctx, "mgr-1", "张经理", func(s *managercode.Set) ([]managercode.Superseded, error) {
		col, err := e.st.LoadCommunity(ctx, "com-both")
		if err != nil {
			return nil, err
		}
		_, err = s.AddExtra("x1", "甲公司", "tokMgrExtra00000000000001", map[string]string{"company": "甲公司"}, col.PayerFields(), e.clock())
		return nil, err
	})
	must(err)
	c, err = pay("tokMgrExtra00000000000001", "key-manager-000000005", map[string]string{"company": "乙公司", "contract": "2026"})
	must(err)
	if c.Order.Fields["company"] != "甲公司" || c.Order.Fields["contract"] != "2026" || c.Order.CollectorID != "mgr-1" {
		t.Fatalf("preset: %v", c.Order.Fields)
	}
	// Only the preset value: the required field is satisfied by it.
	if c, err = pay("tokMgrExtra00000000000001", "key-manager-000000006", nil); err != nil || c.Order.Fields["company"] != "甲公司" {
		t.Fatalf("nothing entered: %v %v", c.Order.Fields, err)
	}
	// The default code still asks for it.
	var inv *payments.InvalidError
	if _, err := pay("tokMgrDefault0000000000002", "key-manager-000000007", nil); !errors.As(err, &inv) || inv.Msg != "请填写公司名称" {
		t.Fatalf("required field on the default code: %v", err)
	}
	// A community code has no collector.
	if c, err := e.svc.CreateOrder(ctx, payments.CreateRequest{Token: tokBoth, Channel: domain.Alipay, AmountFen: 100, IdempotencyKey: "key-community-00000001",
		Fields: map[string]string{"company": "丙"}}); err != nil || c.Order.CollectorID != "" {
		t.Fatalf("community code: %+v %v", c.Order.CollectorID, err)
	}
	ev, ok := order.Change(nil, order.Order{ID: "x", Status: order.Paid, Version: 2, CollectorID: "mgr-1", PaidAt: e.clock()})
	if !ok || ev.CollectorID != "mgr-1" {
		t.Fatalf("event: %+v", ev)
	}
}
