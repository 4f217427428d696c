package fenfu

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC) // 12:00 in Shanghai

// good is a complete application of industry ind that passes every rule.
func good(ind Industry) Application {
	r, _ := RuleOf(ind)
	return Application{ID: "if-1", CompanyID: "co", MerchantID: "1900000001", Industry: ind,
		LicenceNo: "91310000MA1FL8XQ3K", LicenceExpiry: "2030-01-01", ICPFiling: "沪ICP备12345678号",
		FoodLicenceNo: "JY13101010000001", StoreAddress: "上海市徐汇区某路 1 号", TradeLicence: "物业服务许可 2024-001",
		DepositAck: true, DepositFen: r.DepositFen, Status: Draft}
}

// history: our records since 4 months ago, 600 orders a month.
var history = Facts{Now: now, FirstPaidAt: now.AddDate(0, -4, 0), MonthlyOrders: 600}

func checkOf(cs []Check, rule string) (Check, bool) {
	for _, c := range cs {
		if c.Rule == rule {
			return c, true
		}
	}
	return Check{}, false
}

func TestIndustryTable(t *testing.T) {
	for _, tc := range []struct {
		ind     Industry
		deposit int64
		rules   []string // the industry's own rules
	}{
		{Retail, 500000, []string{RuleICP, RuleMonthly}},
		{Catering, 300000, []string{RuleFoodLicence, RuleStore}},
		{Services, 200000, []string{RuleTrade}},
	} {
		r, ok := RuleOf(tc.ind)
		if !ok || r.DepositFen != tc.deposit {
			t.Errorf("%s: deposit %d fen, want %d", tc.ind, r.DepositFen, tc.deposit)
		}
		cs := Evaluate(good(tc.ind), history)
		if !Passed(cs) {
			t.Errorf("%s: a complete application fails: %+v", tc.ind, cs)
		}
		var own []string
		for _, c := range cs {
			switch c.Rule {
			case RuleLicence, RuleHistory, RuleRiskList, RuleDeposit:
			default:
				own = append(own, c.Rule)
			}
		}
		if strings.Join(own, ",") != strings.Join(tc.rules, ",") {
			t.Errorf("%s: industry rules %v, want %v", tc.ind, own, tc.rules)
		}
	}
	if _, ok := RuleOf("mining"); ok {
		t.Error("an unknown industry has a row")
	}
	cs := Evaluate(Application{Industry: "mining", LicenceNo: "91310000MA1FL8XQ3K", LicenceExpiry: LongTerm}, history)
	if c, ok := checkOf(cs, RuleIndustry); !ok || c.OK || Passed(cs) {
		t.Errorf("unknown industry: %+v", cs)
	}
}

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ind      Industry
		change   func(*Application)
		facts    func(*Facts)
		rule     string
		ok       bool
		attested bool
		message  string // a part of the Chinese message
	}{
		{"licence valid", Services, nil, nil, RuleLicence, true, false, "营业执照有效"},
		{"licence long-term", Services, func(a *Application) { a.LicenceExpiry = LongTerm }, nil, RuleLicence, true, false, "有效"},
		{"licence number short", Services, func(a *Application) { a.LicenceNo = "9131000" }, nil, RuleLicence, false, false, "18 位"},
		{"licence number lower case", Services, func(a *Application) { a.LicenceNo = "91310000ma1fl8xq3k" }, nil, RuleLicence, false, false, "18 位"},
		{"licence expiry garbled", Services, func(a *Application) { a.LicenceExpiry = "明年" }, nil, RuleLicence, false, false, "YYYY-MM-DD"},
		{"licence valid through its last day", Services, func(a *Application) { a.LicenceExpiry = "2026-12-06" }, nil, RuleLicence, true, false, "有效"},
		{"licence expired yesterday", Services, func(a *Application) { a.LicenceExpiry = "2026-12-05" }, nil, RuleLicence, false, false, "已过期"},
		{"history from our records", Services, nil, nil, RuleHistory, true, false, "本平台记录"},
		{"history exactly 3 months", Services, nil, func(f *Facts) { f.FirstPaidAt = now.AddDate(0, -3, 0) }, RuleHistory, true, false, "已满 3 个月"},
		{"history a second short", Services, nil, func(f *Facts) { f.FirstPaidAt = now.AddDate(0, -3, 0).Add(time.Second) }, RuleHistory, false, false, "不足"},
		{"no records, no evidence", Services, nil, func(f *Facts) { f.FirstPaidAt = time.Time{} }, RuleHistory, false, false, "无该商户号"},
		{"no records, evidence attested", Services, func(a *Application) { a.HistoryEvidence = "商户平台账单 2026-06～2026-11" },
			func(f *Facts) { f.FirstPaidAt = time.Time{} }, RuleHistory, true, true, "需审核人核实"},
		{"not risk listed", Services, nil, nil, RuleRiskList, true, false, "未列入"},
		{"risk listed", Services, nil, func(f *Facts) { f.RiskListed = true }, RuleRiskList, false, false, "风险名录"},
		{"retail without ICP", Retail, func(a *Application) { a.ICPFiling = " " }, nil, RuleICP, false, false, "ICP"},
		{"retail 500 a month from our records", Retail, nil, func(f *Facts) { f.MonthlyOrders = 500 }, RuleMonthly, true, false, "月均 500 笔"},
		{"retail 499 a month from our records", Retail, nil, func(f *Facts) { f.MonthlyOrders = 499 }, RuleMonthly, false, false, "月均 499 笔"},
		{"retail attested 500", Retail, func(a *Application) { a.HistoryEvidence = "账单"; a.AttestedMonthlyOrders = 500 },
			func(f *Facts) { f.FirstPaidAt, f.MonthlyOrders = time.Time{}, 0 }, RuleMonthly, true, true, "需审核人核实"},
		{"retail attested 499", Retail, func(a *Application) { a.HistoryEvidence = "账单"; a.AttestedMonthlyOrders = 499 },
			func(f *Facts) { f.FirstPaidAt, f.MonthlyOrders = time.Time{}, 0 }, RuleMonthly, false, false, "500 笔以上"},
		{"catering without food licence", Catering, func(a *Application) { a.FoodLicenceNo = "" }, nil, RuleFoodLicence, false, false, "食品经营许可证"},
		{"catering without store", Catering, func(a *Application) { a.StoreAddress = "" }, nil, RuleStore, false, false, "实体门店"},
		{"services without trade licence", Services, func(a *Application) { a.TradeLicence = "" }, nil, RuleTrade, false, false, "经营许可证照"},
		{"deposit not acknowledged", Catering, func(a *Application) { a.DepositAck = false }, nil, RuleDeposit, false, false, "3000 元"},
		{"deposit of another industry", Retail, func(a *Application) { a.DepositFen = 200000 }, nil, RuleDeposit, false, false, "5000 元"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, f := good(tc.ind), history
			if tc.change != nil {
				tc.change(&a)
			}
			if tc.facts != nil {
				tc.facts(&f)
			}
			cs := Evaluate(a, f)
			c, ok := checkOf(cs, tc.rule)
			if !ok {
				t.Fatalf("no check %s in %+v", tc.rule, cs)
			}
			if c.OK != tc.ok || c.Attested != tc.attested || !strings.Contains(c.Message, tc.message) {
				t.Errorf("%s: %+v, want ok=%v attested=%v message ~%q", tc.rule, c, tc.ok, tc.attested, tc.message)
			}
			if Passed(cs) != tc.ok {
				t.Errorf("Passed = %v with only %s changed", Passed(cs), tc.rule)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	a := good(Services)
	a.TradeLicence = ""
	if err := a.Approve(history, "op"); !errors.Is(err, ErrState) {
		t.Fatalf("approve a draft: %v", err)
	}
	inc := a
	inc.DepositAck = false
	if err := inc.Submit(history, "admin"); !errors.Is(err, ErrIncomplete) || inc.Status != Draft {
		t.Fatalf("submit without deposit: %v %s", err, inc.Status)
	}
	if err := a.Submit(history, "admin"); err != nil || a.Status != Submitted || a.Attempts != 1 || Passed(a.Checks) {
		t.Fatalf("submit: %v %+v", err, a)
	}
	if a.Editable() {
		t.Error("a submitted application is editable")
	}
	// A failing check blocks approval.
	if err := a.Approve(history, "op"); !errors.Is(err, ErrChecks) || a.Status != Submitted {
		t.Fatalf("approve with a failing check: %v %s", err, a.Status)
	}
	if err := a.Reject([]string{" ", ""}, "op", now); !errors.Is(err, ErrNoReasons) {
		t.Fatalf("reject without reasons: %v", err)
	}
	if err := a.Reject([]string{"缺少行业经营许可证照", " "}, "op", now); err != nil || a.Status != Rejected || len(a.Reasons) != 1 {
		t.Fatalf("reject: %v %+v", err, a)
	}
	if err := a.Reject([]string{"again"}, "op", now); !errors.Is(err, ErrState) {
		t.Fatalf("reject twice: %v", err)
	}
	// Corrected and resubmitted, then approved.
	a.TradeLicence = "物业服务企业资质 2024-001"
	later := history
	later.Now = now.Add(time.Hour)
	if err := a.Submit(later, "admin"); err != nil || a.Attempts != 2 || !Passed(a.Checks) {
		t.Fatalf("resubmit: %v %+v", err, a)
	}
	if err := a.Approve(later, "op"); err != nil || a.Status != Approved || a.Reasons != nil || a.DecidedBy != "op" || !a.DecidedAt.Equal(later.Now) {
		t.Fatalf("approve: %v %+v", err, a)
	}
	if err := a.Submit(later, "admin"); !errors.Is(err, ErrState) {
		t.Fatalf("submit an approved application: %v", err)
	}
	// Risk-listed at the time of approval: refused even if it passed at submission.
	b := good(Retail)
	if err := b.Submit(history, "admin"); err != nil {
		t.Fatal(err)
	}
	listed := history
	listed.RiskListed = true
	if err := b.Approve(listed, "op"); !errors.Is(err, ErrChecks) {
		t.Fatalf("approve a risk-listed merchant: %v", err)
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{500000: "5000", 1234: "12.34", 5: "0.05"} {
		if got := Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %s, want %s", fen, got, want)
		}
	}
}
