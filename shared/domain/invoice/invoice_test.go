package invoice

import (
	"errors"
	"math"
	"testing"
	"time"
)

// The golden table: tax = round-half-up(incl × r / (1 + r)), excl = incl − tax.
func TestSplitGolden(t *testing.T) {
	cases := []struct {
		incl      int64
		rate      Rate
		excl, tax int64
	}{
		{10000, 600, 9434, 566},                     // 100.00 at 6% → 94.34 + 5.66
		{10000, 300, 9709, 291},                     // 100.00 at 3% → 97.09 + 2.91 (291.26)
		{10000, 100, 9901, 99},                      // 100.00 at 1% → 99.01 + 0.99 (99.0099)
		{10000, 0, 10000, 0},                        // 0% / 免税
		{10000, 900, 9174, 826},                     // 9%: 825.69 → 826
		{10000, 1300, 8850, 1150},                   // 13%: 1150.44
		{1, 600, 1, 0},                              // 0.01 at 6%: 0.0566 → 0
		{9, 600, 8, 1},                              // 0.09 at 6%: 0.509 → 1 (half up)
		{53, 600, 50, 3},                            // 0.53 at 6%: exactly 3.0
		{18, 600, 17, 1},                            // 0.18: 1.0189 → 1
		{106, 600, 100, 6},                          // exactly 6
		{1749, 600, 1650, 99},                       // 99.0 exactly
		{35333, 600, 33333, 2000},                   // 353.33 → 2000.0
		{37630, 600, 35500, 2130},                   // 物业费 376.30: 2130.0
		{103, 300, 100, 3},                          // exact at 3%
		{50, 100, 50, 0},                            // 0.495 → 0
		{51, 100, 50, 1},                            // 0.50495… → 1
		{99999999999, 600, 94339622641, 5660377358}, // ~10 亿 yuan: 5660377358.49
		{math.MaxInt64, 600, 8701294374391297931, 522077662463477876}, // no overflow
		{-10000, 600, -9434, -566},                                    // a red line is the blue one negated
	}
	for _, c := range cases {
		e, tx := Split(c.incl, c.rate)
		if e != c.excl || tx != c.tax {
			t.Errorf("Split(%d, %v) = %d + %d, want %d + %d", c.incl, c.rate, e, tx, c.excl, c.tax)
		}
		if e+tx != c.incl {
			t.Errorf("Split(%d, %v) does not add up", c.incl, c.rate)
		}
	}
}

// Half-up exactly at .5: 0.5 fen of tax rounds up. incl × 600 / 10600 = k + 0.5
// ⇔ incl × 1200 = 10600 (2k + 1) ⇔ incl = 53 (2k+1) / 6: incl = 53·… never an
// integer for odd multiples; at 1% (10100) incl = 10100(2k+1)/200 = 50.5(2k+1)
// — also never. So check against exact rational arithmetic over a range.
func TestSplitMatchesRational(t *testing.T) {
	for _, r := range Rates {
		for incl := int64(0); incl < 30000; incl++ {
			_, tax := Split(incl, r)
			// tax is the integer with |incl·r/(10000+r) − tax| ≤ 1/2, ties up:
			// 2·tax·d − d ≤ 2·incl·r < 2·tax·d + d
			d := 10000 + int64(r)
			if !(2*tax*d-d <= 2*incl*int64(r) && 2*incl*int64(r) < 2*tax*d+d) {
				t.Fatalf("Split(%d, %v) tax %d is not round-half-up", incl, r, tax)
			}
		}
	}
}

func TestRateStrings(t *testing.T) {
	for r, want := range map[Rate][2]string{600: {"6%", "0.06"}, 0: {"0%", "0"}, 1300: {"13%", "0.13"}, 150: {"1.50%", "0.015"}} {
		if r.String() != want[0] || r.Decimal() != want[1] {
			t.Errorf("%d: %q %q, want %v", r, r.String(), r.Decimal(), want)
		}
	}
}

func demoSettings() Settings {
	return Settings{CompanyID: "co", Enabled: true, SellerName: "示例物业服务有限公司", SellerTaxNo: "91310000MA1FL0000X",
		Items: []ItemSetting{
			{FeeItem: "物业费", Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600},
			{FeeItem: "水费", Name: "自来水", TaxCode: "1100301010000000000", Rate: 300},
		},
		Default: ItemSetting{Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}}
}

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestNewLinesAddUp(t *testing.T) {
	req := Request{OrderID: "o1", CompanyID: "co", Seq: 1, Title: Title{Kind: Company, Name: " 某某科技有限公司 ", TaxNo: "91110108mA00000001"},
		Email: "a@example.com", Parts: []Part{{"物业费", 12345}, {"水费", 3333}, {"物业费", 12345}, {"停车费", 10001}}}
	inv, err := New(req, demoSettings(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Title.TaxNo != "91110108MA00000001" || inv.Title.Name != "某某科技有限公司" {
		t.Errorf("title %+v", inv.Title)
	}
	if len(inv.Lines) != 3 || inv.Lines[0].InclFen != 24690 || inv.Lines[2].Name != "物业管理服务" || inv.Lines[1].Rate != 300 {
		t.Fatalf("lines %+v", inv.Lines)
	}
	// 246.90 at 6%: 13.975… → 13.98; 33.33 at 3%: 0.9708 → 0.97; 100.01 at 6%: 5.661 → 5.66
	if inv.Lines[0].TaxFen != 1398 || inv.Lines[1].TaxFen != 97 || inv.Lines[2].TaxFen != 566 {
		t.Errorf("taxes %+v", inv.Lines)
	}
	if inv.TotalFen != 12345*2+3333+10001 || inv.ExclFen+inv.TaxFen != inv.TotalFen || inv.TaxFen != 1398+97+566 {
		t.Errorf("totals %d %d %d", inv.TotalFen, inv.ExclFen, inv.TaxFen)
	}
	if inv.ID != "o1-1" || inv.Status != Requested || !inv.Due(t0) {
		t.Errorf("%+v", inv)
	}
}

func TestNewRefusals(t *testing.T) {
	s := demoSettings()
	ok := Request{OrderID: "o1", CompanyID: "co", Seq: 1, Title: Title{Kind: Personal, Name: "张三"}, Email: "a@example.com", Parts: []Part{{"", 100}}, FreeAmount: true}
	if _, err := New(ok, s, t0); !errors.Is(err, ErrDisabled) {
		t.Errorf("free amount not allowed: %v", err)
	}
	s.AllowFreeAmount = true
	if _, err := New(ok, s, t0); err != nil {
		t.Errorf("free amount allowed: %v", err)
	}
	for name, mod := range map[string]func(r *Request){
		"short tax no": func(r *Request) { r.Title = Title{Kind: Company, Name: "某公司", TaxNo: "12345678901234"} },
		"bad char":     func(r *Request) { r.Title = Title{Kind: Company, Name: "某公司", TaxNo: "91110108MA0000000-"} },
		"long tax no":  func(r *Request) { r.Title = Title{Kind: Company, Name: "某公司", TaxNo: "911101080000000000001"} },
		"no name":      func(r *Request) { r.Title = Title{Kind: Personal, Name: " "} },
		"no kind":      func(r *Request) { r.Title = Title{Name: "x"} },
		"email":        func(r *Request) { r.Email = "not an email" },
		"email name":   func(r *Request) { r.Email = "A <a@example.com>" },
		"zero part":    func(r *Request) { r.Parts = []Part{{"", 0}} },
		"no parts":     func(r *Request) { r.Parts = nil },
	} {
		r := ok
		mod(&r)
		if _, err := New(r, s, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s.Enabled = false
	if _, err := New(ok, s, t0); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled: %v", err)
	}
}

func TestSettingsCheck(t *testing.T) {
	s := demoSettings()
	if _, err := s.Check(); err != nil {
		t.Fatal(err)
	}
	bad := demoSettings()
	bad.Items[0].TaxCode = "304050202020000000" // 18
	if _, err := bad.Check(); !errors.Is(err, ErrInvalid) {
		t.Error("18-digit tax code accepted")
	}
	bad = demoSettings()
	bad.Items[1].Rate = 700
	if _, err := bad.Check(); !errors.Is(err, ErrInvalid) {
		t.Error("7% accepted")
	}
	bad = demoSettings()
	bad.Items = append(bad.Items, bad.Items[0])
	if _, err := bad.Check(); !errors.Is(err, ErrInvalid) {
		t.Error("duplicate fee item accepted")
	}
	off := Settings{CompanyID: "co"}
	if _, err := off.Check(); err != nil {
		t.Errorf("disabled settings need nothing: %v", err)
	}
}

func newInv(t *testing.T) Invoice {
	t.Helper()
	inv, err := New(Request{OrderID: "o1", CompanyID: "co", Seq: 1, Title: Title{Kind: Personal, Name: "张三"}, Email: "a@example.com", Parts: []Part{{"物业费", 10000}}}, demoSettings(), t0)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestTransitions(t *testing.T) {
	inv := newInv(t)
	if err := inv.Issue("1", "u", t0); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("issue before submit: %v", err)
	}
	if err := inv.ClaimEmail(t0); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("email before issue: %v", err)
	}
	if err := inv.Submitted("S1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := inv.Submitted("S1", t0); !errors.Is(err, ErrNoChange) {
		t.Errorf("submitted twice: %v", err)
	}
	if err := inv.Issue("", "u", t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("issue without number: %v", err)
	}
	if err := inv.Issue("26312000000000000001", "http://x/a.pdf", t0); err != nil {
		t.Fatal(err)
	}
	if err := inv.Issue("26312000000000000001", "http://x/a.pdf", t0); !errors.Is(err, ErrNoChange) {
		t.Errorf("duplicate callback: %v", err)
	}
	if inv.Due(t0.Add(time.Hour)) {
		t.Error("issued invoice still due")
	}
	if err := inv.ClaimEmail(t0); err != nil || !inv.Due(t0.Add(EmailGrace)) {
		t.Fatalf("claim: %v %+v", err, inv)
	}
	if err := inv.ClaimEmail(t0.Add(time.Minute)); !errors.Is(err, ErrNoChange) {
		t.Errorf("a second claim within the grace: %v", err)
	}
	if err := inv.ClaimEmail(t0.Add(EmailGrace)); err != nil {
		t.Errorf("a claim left unconfirmed past the grace is taken again: %v", err)
	}
	if err := inv.EmailSent(); err != nil || inv.Due(t0.Add(time.Hour)) {
		t.Fatalf("sent: %v %+v", err, inv)
	}
	if err := inv.ClaimEmail(t0.Add(time.Hour)); !errors.Is(err, ErrNoChange) {
		t.Errorf("claimed after sent: %v", err)
	}
	v := inv.Version
	out, err := inv.Refund("ev1", 0, t0)
	if err != nil || out != RefundReverse || inv.Status != RedRequested || inv.Version != v+1 {
		t.Fatalf("refund: %v %v %+v", out, err, inv)
	}
	if out, err := inv.Refund("ev1", 0, t0); !errors.Is(err, ErrNoChange) || out != RefundIgnored {
		t.Errorf("duplicate refund event: %v %v", out, err)
	}
	if err := inv.RedSubmitted("R1", t0); err != nil {
		t.Fatal(err)
	}
	if err := inv.Reverse("26312000000000000002", "http://x/r.pdf", t0); err != nil {
		t.Fatal(err)
	}
	if err := inv.Fail("x"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("fail after reversal: %v", err)
	}
	for _, to := range []Status{Submitted, Issued, Failed, Cancelled, RedRequested, Reversed} {
		if len(From(to)) == 0 {
			t.Errorf("nothing moves to %s", to)
		}
	}
	if len(From(Requested)) != 0 {
		t.Error("something moves back to REQUESTED")
	}
}

func TestRefundBeforeIssue(t *testing.T) {
	inv := newInv(t)
	if out, err := inv.Refund("ev1", 4000, t0); err != nil || out != RefundCancelled || inv.Status != Cancelled || inv.RedKeepFen != 4000 {
		t.Fatalf("not submitted: %v %v %+v", out, err, inv)
	}
	inv = newInv(t)
	_ = inv.Submitted("S1", t0)
	if out, err := inv.Refund("ev1", 0, t0); err != nil || out != RefundDeferred || inv.Status != Submitted || !inv.RedPending {
		t.Fatalf("submitted: %v %v %+v", out, err, inv)
	}
	if err := inv.Issue("N1", "http://x/a.pdf", t0); err != nil {
		t.Fatal(err)
	}
	if inv.Status != RedRequested || !inv.Due(t0) || inv.Number != "N1" {
		t.Errorf("issued with a refund waiting: %+v", inv)
	}
	// A second, later partial refund only lowers what is kept.
	inv = newInv(t)
	_ = inv.Submitted("S1", t0)
	_ = inv.Issue("N1", "u", t0)
	_, _ = inv.Refund("ev1", 6000, t0)
	if out, err := inv.Refund("ev2", 2000, t0); err != nil || out != RefundIgnored || inv.RedKeepFen != 2000 {
		t.Errorf("second refund: %v %v keep %d", out, err, inv.RedKeepFen)
	}
}

func TestReissueAddsUpToWhatWasKept(t *testing.T) {
	orig, err := New(Request{OrderID: "o1", CompanyID: "co", Seq: 1, Title: Title{Kind: Personal, Name: "张三"}, Email: "a@example.com",
		Parts: []Part{{"物业费", 20000}, {"水费", 3333}, {"停车费", 1}}}, demoSettings(), t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []int64{1, 2, 3, 10000, 23333, 23333 - 1, 12345} {
		re, err := Reissue(orig, 2, keep, t0)
		if err != nil {
			t.Fatalf("keep %d: %v", keep, err)
		}
		var sum int64
		for _, l := range re.Lines {
			if l.InclFen <= 0 || l.ExclFen+l.TaxFen != l.InclFen {
				t.Errorf("keep %d: line %+v", keep, l)
			}
			if e, tx := Split(l.InclFen, l.Rate); e != l.ExclFen || tx != l.TaxFen {
				t.Errorf("keep %d: line not split by the rule: %+v", keep, l)
			}
			sum += l.InclFen
		}
		if sum != keep || re.TotalFen != keep || re.ExclFen+re.TaxFen != keep || re.ID != "o1-2" || re.Replaces != "o1-1" || re.Title != orig.Title {
			t.Errorf("keep %d: %+v", keep, re)
		}
	}
	re, _ := Reissue(orig, 2, 12345, t0) // 20000·12345/23334 = 10581.1, 3333·… = 1763.3, 1·… = 0.53
	if re.Lines[0].InclFen != 10582 || re.Lines[1].InclFen != 1763 || len(re.Lines) != 2 {
		t.Errorf("allocation: %+v", re.Lines)
	}
	for _, keep := range []int64{0, -1, orig.TotalFen, orig.TotalFen + 1} {
		if _, err := Reissue(orig, 2, keep, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("keep %d accepted", keep)
		}
	}
}
