package settlement

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/estatepay/estatepay/shared/domain"
)

// MethodFenfu is the 分付 payment method of WeChat Pay (order.Method). It is
// settled and reconciled apart from ordinary WeChat Pay (F3): its own
// statement line, its own fee tiers (F2).
const MethodFenfu = "fenfu"

// Tier is one step of a fee schedule: from FromFen of month-to-date volume
// (inclusive) up to the next tier's FromFen, the rate is BaseBP + TechBP
// basis points less the merchant's discount, never below FloorBP.
type Tier struct {
	FromFen int64 `json:"from_fen"`
	BaseBP  int64 `json:"base_bp"`
	TechBP  int64 `json:"tech_bp"`
	FloorBP int64 `json:"floor_bp"`
}

// Rate is the tier's rate in basis points after a discount.
func (t Tier) Rate(discountBP int64) int64 { return max(t.BaseBP+t.TechBP-discountBP, t.FloorBP) }

// Plan is the fee of one channel × method: its tiers (one tier: a flat rate)
// and a discount in basis points.
type Plan struct {
	Tiers      []Tier `json:"tiers"`
	DiscountBP int64  `json:"discount_bp,omitempty"`
}

// Schedule is the fee schedule as data: a plan per channel × method, and
// per-merchant plans that replace it for one merchant. Keys are
// "<channel>/<method>", e.g. "wechat/" (ordinary WeChat Pay), "wechat/fenfu".
type Schedule struct {
	Plans     map[string]Plan            `json:"plans"`
	Merchants map[string]map[string]Plan `json:"merchants,omitempty"`
}

// DefaultScheduleJSON is the schedule the product ships: ordinary WeChat Pay
// and Alipay at 0.60 %, 分付 tiered by month-to-date volume per F2
// (0–500k yuan 0.60 %+0.10 % floor 0.50 %; 500k–2M 0.55 %+0.08 % floor
// 0.40 %; above 2M 0.50 %+0.05 % floor 0.30 %).
const DefaultScheduleJSON = `{
 "plans": {
  "wechat/": {"tiers": [{"from_fen": 0, "base_bp": 60, "tech_bp": 0, "floor_bp": 0}]},
  "alipay/": {"tiers": [{"from_fen": 0, "base_bp": 60, "tech_bp": 0, "floor_bp": 0}]},
  "wechat/fenfu": {"tiers": [
   {"from_fen": 0,         "base_bp": 60, "tech_bp": 10, "floor_bp": 50},
   {"from_fen": 50000000,  "base_bp": 55, "tech_bp": 8,  "floor_bp": 40},
   {"from_fen": 200000000, "base_bp": 50, "tech_bp": 5,  "floor_bp": 30}
  ]}
 }
}`

// ParseSchedule reads a schedule and checks every plan.
func ParseSchedule(b []byte) (Schedule, error) {
	var s Schedule
	if err := json.Unmarshal(b, &s); err != nil {
		return Schedule{}, fmt.Errorf("settlement: schedule: %w", err)
	}
	check := func(k string, p Plan) error {
		if len(p.Tiers) == 0 || p.Tiers[0].FromFen != 0 {
			return fmt.Errorf("settlement: plan %s: the first tier must start at 0", k)
		}
		for i, t := range p.Tiers {
			if i > 0 && t.FromFen <= p.Tiers[i-1].FromFen {
				return fmt.Errorf("settlement: plan %s: tiers must rise", k)
			}
			if t.BaseBP < 0 || t.TechBP < 0 || t.FloorBP < 0 || t.Rate(p.DiscountBP) > 10000 {
				return fmt.Errorf("settlement: plan %s: rate out of range", k)
			}
		}
		return nil
	}
	for k, p := range s.Plans {
		if err := check(k, p); err != nil {
			return Schedule{}, err
		}
	}
	for m, plans := range s.Merchants {
		for k, p := range plans {
			if err := check(m+" "+k, p); err != nil {
				return Schedule{}, err
			}
		}
	}
	return s, nil
}

// DefaultSchedule is DefaultScheduleJSON parsed.
func DefaultSchedule() Schedule {
	s, err := ParseSchedule([]byte(DefaultScheduleJSON))
	if err != nil {
		panic(err)
	}
	return s
}

// ErrNoPlan is returned for a channel × method the schedule has no plan for.
var ErrNoPlan = errors.New("settlement: no fee plan")

// PlanFor is the plan of one merchant's channel × method.
func (s Schedule) PlanFor(merchant string, ch domain.Channel, method string) (Plan, error) {
	k := string(ch) + "/" + method
	if p, ok := s.Merchants[merchant][k]; ok {
		return p, nil
	}
	if p, ok := s.Plans[k]; ok {
		return p, nil
	}
	return Plan{}, fmt.Errorf("%w for %s", ErrNoPlan, k)
}

// Tiered reports whether the plan's rate depends on month-to-date volume.
func (p Plan) Tiered() bool { return len(p.Tiers) > 1 }

// Fee is the fee of one payment of amountFen made when the merchant's
// month-to-date volume (of this channel × method, before this payment) is
// mtdFen. Rounding rule, per transaction to the fen: the payment is split at
// every tier boundary it crosses, each part is multiplied by its tier's rate,
// and the sum (in 1/10000 fen) is rounded once, half up (四舍五入), to the
// fen. A payment crossing a boundary thus pays exactly the lower rate on the
// part below it and the higher tier's rate on the rest.
func (p Plan) Fee(mtdFen, amountFen int64) int64 {
	if amountFen <= 0 {
		return 0
	}
	// The tier the payment starts in.
	i := sort.Search(len(p.Tiers), func(i int) bool { return p.Tiers[i].FromFen > mtdFen }) - 1
	var num int64
	at, left := mtdFen, amountFen
	for ; left > 0; i++ {
		part := left
		if i+1 < len(p.Tiers) {
			part = min(left, p.Tiers[i+1].FromFen-at)
		}
		num += part * p.Tiers[i].Rate(p.DiscountBP)
		at += part
		left -= part
	}
	return (num + 5000) / 10000
}
