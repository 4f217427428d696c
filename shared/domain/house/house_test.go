package house

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

func TestNewDerivesIDFromPlace(t *testing.T) {
	a, err := New(House{CompanyID: "co", CommunityID: "cm", Building: " 3 ", Unit: "2", Room: "1101", OwnerPhone: "13800000001"}, at)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(House{CompanyID: "co", CommunityID: "cm", Building: "3", Unit: "2", Room: "1101", OwnerName: "张三"}, at)
	c, _ := New(House{CompanyID: "co", CommunityID: "cm", Building: "3", Unit: "2", Room: "1102"}, at)
	d, _ := New(House{CompanyID: "other", CommunityID: "cm", Building: "3", Unit: "2", Room: "1101"}, at)
	if a.ID != b.ID || a.ID == c.ID || a.ID == d.ID || !strings.HasPrefix(a.ID, "H") {
		t.Fatalf("ids: %s %s %s %s", a.ID, b.ID, c.ID, d.ID)
	}
	if a.Building != "3" || a.Label() != "3栋2单元1101" {
		t.Fatalf("trimmed %q, label %q", a.Building, a.Label())
	}
}

func TestNewRefuses(t *testing.T) {
	for name, h := range map[string]House{
		"no building": {Room: "1"},
		"no room":     {Building: "1"},
		"hash":        {Building: "1#2", Room: "1"},
		"long":        {Building: strings.Repeat("楼", 17), Room: "1"},
		"phone":       {Building: "1", Room: "1", OwnerPhone: "12345"},
		"area":        {Building: "1", Room: "1", AreaM2: "89.555"},
		"name markup": {Building: "1", Room: "1", OwnerName: "<b>"},
	} {
		h.CompanyID, h.CommunityID = "co", "cm"
		_, err := New(h, at)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m := Message(err); m == "" || strings.HasPrefix(m, "house:") || strings.Contains(m, "invalid") {
			t.Errorf("%s: message %q", name, m)
		}
	}
}

func TestLabelAndSortKey(t *testing.T) {
	if got := Label("5号楼", "", "301"); got != "5号楼301" {
		t.Fatal(got)
	}
	if got := Label("A", "1单元", "2"); got != "A栋1单元2" {
		t.Fatal(got)
	}
	if !(SortKey("2", "1", "101") < SortKey("10", "1", "101")) {
		t.Fatal("building 2 must sort before 10")
	}
	if MaskedPhone("13800000001") != "138****0001" {
		t.Fatal(MaskedPhone("13800000001"))
	}
}
