package fenfu

import (
	"strconv"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// Rules, as RiskRecord.Rule.
const (
	RuleNightLarge = "night_large"
	RuleDailyLimit = "daily_limit"
	RuleInARow     = "three_in_a_row"
	RuleSuspicious = "suspicious"
)

// Limits are the risk rules' parameters (F4), configurable per deployment.
type Limits struct {
	NightLargeFen int64         // 分付 payments of at least this are refused at night
	NightFrom     int           // the night window's first hour (Asia/Shanghai), 23
	NightTo       int           // the hour the night window ends, 2 (exclusive)
	DailyFen      int64         // one payer's 分付 total per day (Asia/Shanghai)
	InARow        int           // this many 分付 payments in a row by one payer warn
	HoldAboveFen  int64         // a 分付 payment of at least this is suspicious (0: off)
	HoldFor       time.Duration // a suspicious payment is held this long (48 h)
}

// DefaultLimits are F4's numbers; the night threshold is ours (configurable).
func DefaultLimits() Limits {
	return Limits{
		NightLargeFen: 500000, // 5,000 yuan
		NightFrom:     23,
		NightTo:       2,
		DailyFen:      5000000, // 50,000 yuan
		InARow:        3,
		HoldAboveFen:  2000000, // 20,000 yuan
		HoldFor:       48 * time.Hour,
	}
}

// Payment is one 分付 payment as the rules see it.
type Payment struct {
	CompanyID   string
	MerchantID  string
	OrderID     string
	PayerOpenID string
	AmountFen   int64
}

func (p Payment) record(rule string, d Decision, detail string, at time.Time) RiskRecord {
	return RiskRecord{ID: p.OrderID + "#" + rule, CompanyID: p.CompanyID, MerchantID: p.MerchantID, OrderID: p.OrderID,
		PayerOpenID: p.PayerOpenID, Rule: rule, Decision: d, Detail: detail, AmountFen: p.AmountFen, At: at}
}

// MsgOrdinary is what a refused payer is offered instead.
const MsgOrdinary = "请改用普通微信支付（零钱或银行卡）完成付款。"

// InNight reports whether at falls in the night window [from:00, to:00)
// Asia/Shanghai, which may cross midnight (23:00–02:00).
func (l Limits) InNight(at time.Time) bool {
	h := calendar.Local(at).Hour()
	if l.NightFrom <= l.NightTo {
		return h >= l.NightFrom && h < l.NightTo
	}
	return h >= l.NightFrom || h < l.NightTo
}

// CheckNight refuses a large 分付 payment in the night window (F4).
func CheckNight(p Payment, at time.Time, l Limits) RiskRecord {
	if l.NightLargeFen > 0 && p.AmountFen >= l.NightLargeFen && l.InNight(at) {
		return p.record(RuleNightLarge, Refuse, "每日 23:00–02:00 不受理 "+domain.FormatYuan(domain.Fen(l.NightLargeFen))+
			" 元及以上的分付付款。"+MsgOrdinary, at)
	}
	return p.record(RuleNightLarge, Allow, "", at)
}

// CheckDaily decides against the payer's 分付 total of the day so far
// (spent, already counted): the payment passes when spent+amount stays
// within the daily limit. The store enforces the same bound with a
// conditional counter (this is its rule and its message).
func CheckDaily(p Payment, spentFen int64, at time.Time, l Limits) RiskRecord {
	if spentFen+p.AmountFen > l.DailyFen {
		left := l.DailyFen - spentFen
		if left < 0 {
			left = 0
		}
		return p.record(RuleDailyLimit, Refuse, "每位付款人每天分付最多 "+domain.FormatYuan(domain.Fen(l.DailyFen))+
			" 元，今天还可用 "+domain.FormatYuan(domain.Fen(left))+" 元。"+MsgOrdinary, at)
	}
	return p.record(RuleDailyLimit, Allow, "", at)
}

// CheckInARow warns when this 分付 payment makes the payer's last
// l.InARow payments (with this merchant's company) all 分付. previous are the
// payer's earlier payments' methods, newest first.
func CheckInARow(p Payment, previous []string, at time.Time, l Limits) RiskRecord {
	if l.InARow <= 1 || len(previous) < l.InARow-1 {
		return p.record(RuleInARow, Allow, "", at)
	}
	for _, m := range previous[:l.InARow-1] {
		if m != Method {
			return p.record(RuleInARow, Allow, "", at)
		}
	}
	return p.record(RuleInARow, Warn, "同一付款人连续第 "+itoa(l.InARow)+" 次使用分付付款，请风控人员核查。", at)
}

// CheckSuspicious holds a suspicious paid 分付 payment out of settlement
// for l.HoldFor (F4, S3): one that raised a warning, or a large one.
func CheckSuspicious(p Payment, warned bool, at time.Time, l Limits) RiskRecord {
	switch {
	case warned:
		return p.record(RuleSuspicious, Hold, "连续分付付款，暂缓结算 "+itoa(int(l.HoldFor.Hours()))+" 小时待核查。", at)
	case l.HoldAboveFen > 0 && p.AmountFen >= l.HoldAboveFen:
		return p.record(RuleSuspicious, Hold, "大额分付付款，暂缓结算 "+itoa(int(l.HoldFor.Hours()))+" 小时待核查。", at)
	}
	return p.record(RuleSuspicious, Allow, "", at)
}

// ReleaseAt is when a hold placed at `at` is due for release.
func (l Limits) ReleaseAt(at time.Time) time.Time { return at.Add(l.HoldFor) }

func itoa(n int) string { return strconv.Itoa(n) }
