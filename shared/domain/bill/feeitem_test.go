package bill_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/bill"
)

func TestFeeItemValidation(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	base := bill.FeeItem{CompanyID: "co", CommunityID: "cm", Name: "物业费", PerM2Fen: 250, Cycle: bill.Monthly}
	if _, err := bill.NewFeeItem(base, at); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		mut  func(*bill.FeeItem)
		want string
	}{
		"both prices": {func(f *bill.FeeItem) { f.FixedFen = 100 }, "二选一"},
		"no price":    {func(f *bill.FeeItem) { f.PerM2Fen = 0 }, "二选一"},
		"no name":     {func(f *bill.FeeItem) { f.Name = " " }, "名称不能为空"},
		"long name":   {func(f *bill.FeeItem) { f.Name = "一二三四五六七八九十一二三四五六七" }, "最多 16 个字"},
		"hash":        {func(f *bill.FeeItem) { f.Name = "水#费" }, "不能包含"},
		"cycle":       {func(f *bill.FeeItem) { f.Cycle = "weekly" }, "收费周期"},
		"too much":    {func(f *bill.FeeItem) { f.PerM2Fen = bill.MaxFeeFen + 1 }, "1000000"},
	} {
		f := base
		tc.mut(&f)
		_, err := bill.NewFeeItem(f, at)
		if !errors.Is(err, bill.ErrInvalid) || !strings.Contains(bill.Message(err), tc.want) {
			t.Errorf("%s: %v, want …%s…", name, err, tc.want)
		}
	}
}

func TestAmountFor(t *testing.T) {
	per := bill.FeeItem{PerM2Fen: 235} // ¥2.35/m²
	for area, want := range map[string]int64{"100": 23500, "89.5": 21033 /* 210.325 → 210.33 */, "89.55": 21044 /* 210.4425 */, "0.01": 2 /* 2.35 fen → 2 */, "0.03": 7 /* 7.05 → 7 */} {
		got, err := per.AmountFor(area)
		if err != nil || got != want {
			t.Errorf("AmountFor(%s) = %d, %v; want %d", area, got, err, want)
		}
	}
	half := bill.FeeItem{PerM2Fen: 50} // 0.5 fen per 0.01 m²
	if got, _ := half.AmountFor("0.01"); got != 1 {
		t.Errorf("half a fen rounds up: %d", got)
	}
	if _, err := per.AmountFor(""); err == nil {
		t.Error("an area-priced item without an area")
	}
	if _, err := per.AmountFor("8.123"); err == nil {
		t.Error("three decimals accepted")
	}
	if got, err := (bill.FeeItem{FixedFen: 3000}).AmountFor(""); got != 3000 || err != nil {
		t.Errorf("fixed: %d %v", got, err)
	}
}

func TestIDFor(t *testing.T) {
	a := bill.IDFor("co", "h1", "物业费", "2026-11")
	if a != bill.IDFor("co", "h1", "物业费", "2026-11") || len(a) != 25 || a[0] != 'B' {
		t.Fatalf("not deterministic or malformed: %s", a)
	}
	for _, b := range []string{bill.IDFor("co2", "h1", "物业费", "2026-11"), bill.IDFor("co", "h2", "物业费", "2026-11"),
		bill.IDFor("co", "h1", "水费", "2026-11"), bill.IDFor("co", "h1", "物业费", "2026-12")} {
		if b == a {
			t.Error("different bills share an id")
		}
	}
}

// Message is the Chinese text alone, never the sentinel's "invalid: ".
func TestMessageIsChineseOnly(t *testing.T) {
	err := bill.CheckFeeItemName("水#费")
	if m := bill.Message(err); strings.Contains(m, "invalid") || !strings.HasPrefix(m, "收费项目名称") {
		t.Fatalf("Message = %q", m)
	}
}
