package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/store"
)

func invoiceRepo(t *testing.T) *store.Invoices {
	t.Helper()
	st := newStore(t)
	return &store.Invoices{DB: st.DB, Table: "InvoicesTable"}
}

func invoiceSettingsFixture() invoice.Settings {
	return invoice.Settings{CompanyID: "co1", Enabled: true, SellerName: "示例物业服务有限公司", SellerTaxNo: "91310000MA1FL0000X",
		Items:   []invoice.ItemSetting{{FeeItem: "物业费", Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}},
		Default: invoice.ItemSetting{Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}}
}

func newInvoice(t *testing.T, orderID, name string) invoice.Invoice {
	t.Helper()
	inv, err := invoice.New(invoice.Request{OrderID: orderID, CompanyID: "co1", CommunityID: "cm1", Seq: 1,
		Title: invoice.Title{Kind: invoice.Company, Name: name, TaxNo: "91110108MA00000001"}, Email: "a@example.com",
		Parts: []invoice.Part{{FeeItem: "物业费", Fen: 10000}}}, invoiceSettingsFixture(), time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestInvoiceCreateOnce(t *testing.T) {
	ctx := context.Background()
	r := invoiceRepo(t)
	first := newInvoice(t, "ord1", "甲公司")
	if _, err := r.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The same request again, and a different one for the same order: both
	// find the first, nothing is overwritten.
	for _, name := range []string{"甲公司", "乙公司"} {
		got, err := r.Create(ctx, newInvoice(t, "ord1", name))
		if !errors.Is(err, invoice.ErrExists) || got.Title.Name != "甲公司" {
			t.Fatalf("second create %s: %v %+v", name, err, got.Title)
		}
	}
	list, err := r.OfOrder(ctx, "ord1")
	if err != nil || len(list) != 1 {
		t.Fatalf("of order: %v %d", err, len(list))
	}
	got, err := r.GetByID(ctx, "ord1-1")
	if err != nil || got.TotalFen != 10000 || got.TaxFen != 566 || len(got.Lines) != 1 || got.Lines[0].TaxCode != "3040502020200000000" || got.Status != invoice.Requested {
		t.Fatalf("round trip: %v %+v", err, got)
	}
}

func TestInvoiceConditionalTransitions(t *testing.T) {
	ctx := context.Background()
	r := invoiceRepo(t)
	inv := newInvoice(t, "ord2", "甲公司")
	if _, err := r.Create(ctx, inv); err != nil {
		t.Fatal(err)
	}
	now := inv.CreatedAt
	due, err := r.Due(ctx, now, 10)
	if err != nil || len(due) != 1 || due[0].ID != "ord2-1" {
		t.Fatalf("due: %v %+v", err, due)
	}
	if _, err := r.Update(ctx, "ord2", 1, func(i *invoice.Invoice) error { return i.Submitted("S1", now.Add(time.Hour)) }); err != nil {
		t.Fatal(err)
	}
	if due, _ := r.Due(ctx, now, 10); len(due) != 0 {
		t.Errorf("submitted invoice due before its check: %+v", due)
	}
	issued, err := r.Update(ctx, "ord2", 1, func(i *invoice.Invoice) error { return i.Issue("N1", "http://x/a.pdf", now) })
	if err != nil || issued.Status != invoice.Issued {
		t.Fatal(err)
	}
	if due, _ := r.Due(ctx, now.Add(2*time.Hour), 10); len(due) != 0 {
		t.Errorf("issued invoice left in the due index: %+v", due)
	}
	if _, err := r.Update(ctx, "ord2", 1, func(i *invoice.Invoice) error { return i.Issue("N1", "http://x/a.pdf", now) }); !errors.Is(err, invoice.ErrNoChange) {
		t.Errorf("duplicate issue: %v", err)
	}
	// The condition itself refuses a write whose status moved under it: a
	// stale copy (read while SUBMITTED) cannot be written back.
	stale := issued
	stale.Status, stale.Version = invoice.Submitted, issued.Version-1
	if _, err := r.Update(ctx, "ord2", 1, func(i *invoice.Invoice) error { *i = stale; return stale.Fail("x") }); err == nil {
		t.Error("stale write accepted")
	}
	// Exactly one of two concurrent claims of the e-mail wins.
	wins := 0
	for range 2 {
		if _, err := r.Update(ctx, "ord2", 1, func(i *invoice.Invoice) error { return i.ClaimEmail(now) }); err == nil {
			wins++
		} else if !errors.Is(err, invoice.ErrNoChange) {
			t.Fatal(err)
		}
	}
	if wins != 1 {
		t.Errorf("%d e-mail claims won", wins)
	}
}

func TestInvoiceSettingsVersioned(t *testing.T) {
	ctx := context.Background()
	r := invoiceRepo(t)
	s, err := r.InvoiceSettings(ctx, "co1")
	if err != nil || s.Enabled || s.Version != 0 {
		t.Fatalf("none: %v %+v", err, s)
	}
	in := invoiceSettingsFixture()
	saved, err := r.PutInvoiceSettings(ctx, in)
	if err != nil || saved.Version != 1 {
		t.Fatal(err)
	}
	if _, err := r.PutInvoiceSettings(ctx, in); !errors.Is(err, store.ErrSettingsChanged) {
		t.Errorf("second first save: %v", err)
	}
	got, err := r.InvoiceSettings(ctx, "co1")
	if err != nil || !got.Enabled || got.Version != 1 || got.For("物业费").Rate != 600 || got.Default.TaxCode != "3040502020200000000" {
		t.Fatalf("read back: %v %+v", err, got)
	}
	got.AllowFreeAmount = true
	if _, err := r.PutInvoiceSettings(ctx, got); err != nil {
		t.Fatal(err)
	}
}

// InvoiceOfKey reads an invoice's order and sequence from a stream record's
// keys; the settings item and malformed keys are not invoices.
func TestInvoiceOfKey(t *testing.T) {
	for _, c := range []struct {
		pk, sk string
		order  string
		seq    int
	}{
		{"INV#EP123", "001", "EP123", 1},
		{"INV#EP123", "012", "EP123", 12},
		{"INVSET#co", "A", "", 0},
		{"INV#", "001", "", 0},
		{"INV#EP123", "000", "", 0},
		{"INV#EP123", "1", "", 0},
		{"INV#EP123", "0x1", "", 0},
		{"EP123", "001", "", 0},
	} {
		order, seq, ok := store.InvoiceOfKey(c.pk, c.sk)
		if ok != (c.order != "") || order != c.order || seq != c.seq {
			t.Errorf("InvoiceOfKey(%q, %q) = %q %d %v", c.pk, c.sk, order, seq, ok)
		}
	}
}
