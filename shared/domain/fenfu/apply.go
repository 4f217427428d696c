package fenfu

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A merchant's 分付 application (F1): a company admin fills it in for one
// WeChat Pay interface (DRAFT), submits it (SUBMITTED, its checks computed),
// and a reviewer — the platform operator — approves it (APPROVED: the
// interface offers 分付) or rejects it with reasons (REJECTED; the merchant
// may correct it and submit again). The entry rules and the industry table
// are data (Industries, Evaluate); the caller passes the facts and the time.

// Status is where an application stands.
type Status string

const (
	Draft     Status = "DRAFT"
	Submitted Status = "SUBMITTED"
	Approved  Status = "APPROVED"
	Rejected  Status = "REJECTED"
)

// Label is the status as people read it.
func (s Status) Label() string {
	switch s {
	case Draft:
		return "草稿"
	case Submitted:
		return "待审核"
	case Approved:
		return "已开通"
	case Rejected:
		return "已驳回"
	}
	return string(s)
}

// Industry is the merchant's industry category (行业类别).
type Industry string

const (
	Retail   Industry = "retail"   // 电商零售
	Catering Industry = "catering" // 餐饮服务
	Services Industry = "services" // 生活服务
)

// IndustryRule is one row of the industry table (seed 002): the special
// qualifications an industry needs and its risk deposit (风险保证金).
type IndustryRule struct {
	Industry         Industry
	Label            string
	DepositFen       int64
	NeedICP          bool // ICP 备案
	MinMonthlyOrders int  // 月均交易笔数下限 (0: none)
	NeedFoodLicence  bool // 食品经营许可证
	NeedStore        bool // 线下实体门店
	NeedTradeLicence bool // 对应行业特许经营证照
}

// Industries is the industry table, in the order people see it.
var Industries = []IndustryRule{
	{Industry: Retail, Label: "电商零售", DepositFen: 5000_00, NeedICP: true, MinMonthlyOrders: 500},
	{Industry: Catering, Label: "餐饮服务", DepositFen: 3000_00, NeedFoodLicence: true, NeedStore: true},
	{Industry: Services, Label: "生活服务", DepositFen: 2000_00, NeedTradeLicence: true},
}

// RuleOf returns the industry's row of the table.
func RuleOf(i Industry) (IndustryRule, bool) {
	for _, r := range Industries {
		if r.Industry == i {
			return r, true
		}
	}
	return IndustryRule{}, false
}

// HistoryMonths is the WeChat Pay history the entry rules ask for.
const HistoryMonths = 3

// LongTerm is a licence expiry of a licence without end (长期).
const LongTerm = "长期"

// Application is one merchant's application for one WeChat Pay interface
// (its ID is the interface's: one application per merchant, resubmitted
// after a rejection).
type Application struct {
	ID         string   `dynamodbav:"id"` // the interface id
	CompanyID  string   `dynamodbav:"company_id"`
	MerchantID string   `dynamodbav:"merchant_id"` // the WeChat Pay 商户号 (the risk list's key)
	Industry   Industry `dynamodbav:"industry"`

	LicenceNo     string `dynamodbav:"licence_no"`     // 营业执照统一社会信用代码
	LicenceExpiry string `dynamodbav:"licence_expiry"` // YYYY-MM-DD or LongTerm
	ICPFiling     string `dynamodbav:"icp_filing,omitempty"`
	FoodLicenceNo string `dynamodbav:"food_licence_no,omitempty"`
	StoreAddress  string `dynamodbav:"store_address,omitempty"`
	TradeLicence  string `dynamodbav:"trade_licence,omitempty"`
	// Attested WeChat Pay history, used only where our own records fall
	// short: a description or a file reference of the evidence (e.g. the
	// merchant platform's 交易账单 export), and the monthly order count it shows.
	HistoryEvidence       string `dynamodbav:"history_evidence,omitempty"`
	AttestedMonthlyOrders int    `dynamodbav:"attested_monthly_orders,omitempty"`
	DepositAck            bool   `dynamodbav:"deposit_ack"`
	DepositFen            int64  `dynamodbav:"deposit_fen"` // the industry's deposit, acknowledged

	Status      Status    `dynamodbav:"status"`
	Checks      []Check   `dynamodbav:"checks,omitempty"`  // at the last submission or decision
	Reasons     []string  `dynamodbav:"reasons,omitempty"` // the rejection's
	Attempts    int       `dynamodbav:"attempts"`          // submissions so far
	SubmittedBy string    `dynamodbav:"submitted_by,omitempty"`
	SubmittedAt time.Time `dynamodbav:"submitted_at"`
	DecidedBy   string    `dynamodbav:"decided_by,omitempty"`
	DecidedAt   time.Time `dynamodbav:"decided_at"`
}

// Facts are what the rules need beyond the form, found by the caller at
// the time of the check.
type Facts struct {
	Now time.Time
	// FirstPaidAt is the interface's earliest paid WeChat Pay order in our
	// own records (zero: none).
	FirstPaidAt time.Time
	// MonthlyOrders is the average paid orders a month over the last
	// HistoryMonths months in our own records.
	MonthlyOrders int
	// RiskListed: the merchant is on the payment industry's risk list.
	RiskListed bool
}

// Check is the result of one rule.
type Check struct {
	Rule     string `dynamodbav:"rule"`
	OK       bool   `dynamodbav:"ok"`
	Attested bool   `dynamodbav:"attested,omitempty"` // passed on the merchant's evidence: the reviewer verifies it
	Message  string `dynamodbav:"message"`
}

// The rules, as Check.Rule names them.
const (
	RuleLicence     = "licence"
	RuleHistory     = "history"
	RuleRiskList    = "risk_list"
	RuleIndustry    = "industry"
	RuleICP         = "icp"
	RuleMonthly     = "monthly_orders"
	RuleFoodLicence = "food_licence"
	RuleStore       = "store"
	RuleTrade       = "trade_licence"
	RuleDeposit     = "deposit"
)

// Evaluate applies the entry rules and the industry's row to the
// application, one Check per rule, in a fixed order.
func Evaluate(a Application, f Facts) []Check {
	var cs []Check
	add := func(rule string, ok bool, msg string) { cs = append(cs, Check{Rule: rule, OK: ok, Message: msg}) }

	// Entry rules (基础准入条件).
	switch exp, err := licenceExpiry(a.LicenceExpiry); {
	case !validLicenceNo(a.LicenceNo):
		add(RuleLicence, false, "营业执照统一社会信用代码应为 18 位数字或大写字母")
	case err != nil:
		add(RuleLicence, false, "营业执照有效期应为 YYYY-MM-DD 或“长期”")
	case !exp.IsZero() && !f.Now.Before(exp.AddDate(0, 0, 1)):
		add(RuleLicence, false, "营业执照已过期（有效期至 "+a.LicenceExpiry+"）")
	default:
		add(RuleLicence, true, "营业执照有效")
	}
	cs = append(cs, historyCheck(a, f))
	if f.RiskListed {
		add(RuleRiskList, false, "商户号 "+a.MerchantID+" 在支付行业风险名录中")
	} else {
		add(RuleRiskList, true, "未列入支付行业风险名录")
	}

	// The industry's row (专项资质).
	r, ok := RuleOf(a.Industry)
	if !ok {
		add(RuleIndustry, false, "请选择行业类别")
		return cs
	}
	if r.NeedICP {
		add(RuleICP, strings.TrimSpace(a.ICPFiling) != "", pick(strings.TrimSpace(a.ICPFiling) != "", "已填写 ICP 备案号", r.Label+"需要 ICP 备案号"))
	}
	if r.MinMonthlyOrders > 0 {
		cs = append(cs, monthlyCheck(a, f, r))
	}
	if r.NeedFoodLicence {
		add(RuleFoodLicence, strings.TrimSpace(a.FoodLicenceNo) != "", pick(strings.TrimSpace(a.FoodLicenceNo) != "", "已填写食品经营许可证", r.Label+"需要食品经营许可证"))
	}
	if r.NeedStore {
		add(RuleStore, strings.TrimSpace(a.StoreAddress) != "", pick(strings.TrimSpace(a.StoreAddress) != "", "已填写线下实体门店地址", r.Label+"需要线下实体门店（请填写门店地址）"))
	}
	if r.NeedTradeLicence {
		add(RuleTrade, strings.TrimSpace(a.TradeLicence) != "", pick(strings.TrimSpace(a.TradeLicence) != "", "已填写行业经营许可证照", r.Label+"需要对应行业的经营许可证照"))
	}
	dep := "风险保证金 " + Yuan(r.DepositFen) + " 元"
	add(RuleDeposit, a.DepositAck && a.DepositFen == r.DepositFen, pick(a.DepositAck && a.DepositFen == r.DepositFen, "已确认缴纳"+dep, "请确认缴纳"+dep))
	return cs
}

// ourHistory reports whether our own records cover HistoryMonths months.
func ourHistory(f Facts) bool {
	return !f.FirstPaidAt.IsZero() && !f.FirstPaidAt.AddDate(0, HistoryMonths, 0).After(f.Now)
}

func historyCheck(a Application, f Facts) Check {
	c := Check{Rule: RuleHistory}
	switch {
	case ourHistory(f):
		c.OK, c.Message = true, "本平台记录：首笔微信支付收款 "+day(f.FirstPaidAt)+"，已满 3 个月"
	case strings.TrimSpace(a.HistoryEvidence) != "":
		c.OK, c.Attested = true, true
		c.Message = "本平台记录不足 3 个月" + since(f) + "，以申请人提供的证明为准（需审核人核实）：" + strings.TrimSpace(a.HistoryEvidence)
	default:
		c.Message = "微信支付交易记录不足连续 3 个月" + since(f) + "，请提供证明（如商户平台交易账单）"
	}
	return c
}

func monthlyCheck(a Application, f Facts, r IndustryRule) Check {
	c := Check{Rule: RuleMonthly}
	need := fmt.Sprintf("月均交易 %d 笔以上", r.MinMonthlyOrders)
	switch {
	case ourHistory(f) && f.MonthlyOrders >= r.MinMonthlyOrders:
		c.OK, c.Message = true, fmt.Sprintf("本平台记录：近 3 个月月均 %d 笔，满足%s", f.MonthlyOrders, need)
	case ourHistory(f) && strings.TrimSpace(a.HistoryEvidence) == "":
		c.Message = fmt.Sprintf("本平台记录：近 3 个月月均 %d 笔，%s要求%s", f.MonthlyOrders, r.Label, need)
	case strings.TrimSpace(a.HistoryEvidence) != "" && a.AttestedMonthlyOrders >= r.MinMonthlyOrders:
		c.OK, c.Attested = true, true
		c.Message = fmt.Sprintf("申请人证明月均 %d 笔（需审核人核实），满足%s", a.AttestedMonthlyOrders, need)
	default:
		c.Message = fmt.Sprintf("%s要求%s（申请人证明月均 %d 笔）", r.Label, need, a.AttestedMonthlyOrders)
	}
	return c
}

func since(f Facts) string {
	if f.FirstPaidAt.IsZero() {
		return "（本平台无该商户号的收款记录）"
	}
	return "（首笔 " + day(f.FirstPaidAt) + "）"
}

func day(t time.Time) string { return t.In(shanghai).Format("2006-01-02") }

var shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// Yuan formats fen as yuan ("5000", "12.34").
func Yuan(fen int64) string {
	if fen%100 == 0 {
		return fmt.Sprintf("%d", fen/100)
	}
	return fmt.Sprintf("%d.%02d", fen/100, fen%100)
}

func validLicenceNo(s string) bool {
	if len(s) != 18 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// licenceExpiry parses the expiry: a date (the licence is valid through
// that day, China time), or LongTerm (zero time, no end).
func licenceExpiry(s string) (time.Time, error) {
	if strings.TrimSpace(s) == LongTerm {
		return time.Time{}, nil
	}
	return time.ParseInLocation("2006-01-02", strings.TrimSpace(s), shanghai)
}

// Passed reports whether every check passed.
func Passed(cs []Check) bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return len(cs) > 0
}

// Errors of the application's transitions.
var (
	ErrState      = errors.New("fenfu: not allowed in this state")
	ErrIncomplete = errors.New("fenfu: application incomplete")
	ErrNoReasons  = errors.New("fenfu: a rejection needs reasons")
	ErrChecks     = errors.New("fenfu: entry rules not met")
)

// Editable reports whether the merchant may change the form (a draft, or
// rejected and to be corrected).
func (a Application) Editable() bool {
	return a.Status == "" || a.Status == Draft || a.Status == Rejected
}

// Submit sends the application for review with its checks computed. A
// rejected application may be submitted again (its reasons stay for the
// record until the next decision). Submission needs the industry and the
// deposit acknowledged; the checks are for the reviewer, who approves only
// when all pass.
func (a *Application) Submit(f Facts, by string) error {
	if !a.Editable() {
		return ErrState
	}
	r, ok := RuleOf(a.Industry)
	if !ok || !a.DepositAck || a.DepositFen != r.DepositFen {
		return ErrIncomplete
	}
	a.Checks = Evaluate(*a, f)
	a.Status, a.Attempts, a.SubmittedBy, a.SubmittedAt = Submitted, a.Attempts+1, by, f.Now
	return nil
}

// Approve enables 分付 for the merchant: a submitted application whose
// checks, recomputed now, all pass.
func (a *Application) Approve(f Facts, by string) error {
	if a.Status != Submitted {
		return ErrState
	}
	cs := Evaluate(*a, f)
	if !Passed(cs) {
		a.Checks = cs
		return ErrChecks
	}
	a.Checks, a.Reasons = cs, nil
	a.Status, a.DecidedBy, a.DecidedAt = Approved, by, f.Now
	return nil
}

// Reject turns a submitted application down with reasons (at least one,
// non-blank) the merchant sees.
func (a *Application) Reject(reasons []string, by string, now time.Time) error {
	if a.Status != Submitted {
		return ErrState
	}
	var rs []string
	for _, r := range reasons {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return ErrNoReasons
	}
	a.Status, a.Reasons, a.DecidedBy, a.DecidedAt = Rejected, rs, by, now
	return nil
}
