package bill

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Cycle is how often a fee item is billed.
type Cycle string

const (
	Monthly   Cycle = "monthly"
	Quarterly Cycle = "quarterly"
	Yearly    Cycle = "yearly"
	Once      Cycle = "once"
)

// Name is how people read the cycle (按月, …).
func (c Cycle) Name() string {
	switch c {
	case Monthly:
		return "按月"
	case Quarterly:
		return "按季"
	case Yearly:
		return "按年"
	case Once:
		return "一次性"
	}
	return string(c)
}

// Cycles lists the cycles in the order the console offers them.
func Cycles() []Cycle { return []Cycle{Monthly, Quarterly, Yearly, Once} }

// FeeItem is a community's fee item (物业费, 水费, 停车费…): its price is a
// fixed amount per bill, or a unit price per m² of the house's floor area.
// Its name is its key within the community and the name bills carry.
type FeeItem struct {
	CompanyID   string
	CommunityID string
	Name        string
	FixedFen    int64 // a fixed amount per bill, or 0
	PerM2Fen    int64 // a unit price per m² of the house's area, or 0
	Cycle       Cycle
	UpdatedAt   time.Time
}

// MaxFeeFen bounds a fee item's price (and a bill's amount): ¥1,000,000.
const MaxFeeFen = 100_000_000

// CheckFeeItemName checks a fee item's name (also the name an imported bill
// carries); the error wraps ErrInvalid with a Chinese message.
func CheckFeeItemName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: 收费项目名称不能为空", ErrInvalid)
	case n > 16:
		return fmt.Errorf("%w: 收费项目名称最多 16 个字", ErrInvalid)
	case strings.ContainsAny(name, "#<>\x00\t\r\n"):
		return fmt.Errorf("%w: 收费项目名称不能包含 # < > 或控制字符", ErrInvalid)
	case name != strings.TrimSpace(name):
		return fmt.Errorf("%w: 收费项目名称首尾不能有空格", ErrInvalid)
	}
	return nil
}

// NewFeeItem checks a fee item: a name, exactly one of a fixed amount and a
// unit price (positive, at most MaxFeeFen), a known cycle. Errors wrap
// ErrInvalid; Message gives their Chinese text.
func NewFeeItem(f FeeItem, at time.Time) (FeeItem, error) {
	f.Name = strings.TrimSpace(f.Name)
	if f.CompanyID == "" || f.CommunityID == "" {
		return FeeItem{}, fmt.Errorf("%w: 缺少公司或小区", ErrInvalid)
	}
	if err := CheckFeeItemName(f.Name); err != nil {
		return FeeItem{}, err
	}
	switch {
	case (f.FixedFen > 0) == (f.PerM2Fen > 0):
		return FeeItem{}, fmt.Errorf("%w: 请填写固定金额或每平方米单价（二选一）", ErrInvalid)
	case f.FixedFen < 0 || f.PerM2Fen < 0:
		return FeeItem{}, fmt.Errorf("%w: 金额必须大于 0", ErrInvalid)
	case f.FixedFen > MaxFeeFen || f.PerM2Fen > MaxFeeFen:
		return FeeItem{}, fmt.Errorf("%w: 金额不能超过 1000000 元", ErrInvalid)
	}
	switch f.Cycle {
	case Monthly, Quarterly, Yearly, Once:
	default:
		return FeeItem{}, fmt.Errorf("%w: 收费周期只能是按月、按季、按年或一次性", ErrInvalid)
	}
	f.UpdatedAt = at
	return f, nil
}

var areaRE = regexp.MustCompile(`^([0-9]{1,5})(?:\.([0-9]{1,2}))?$`)

// AmountFor is the amount of one bill of the item for a house of areaM2
// (as written, "89.5"): the fixed amount, or the unit price × the area
// rounded half up to the fen. An area-priced item needs the area.
func (f FeeItem) AmountFor(areaM2 string) (int64, error) {
	if f.FixedFen > 0 {
		return f.FixedFen, nil
	}
	m := areaRE.FindStringSubmatch(strings.TrimSpace(areaM2))
	if m == nil {
		return 0, fmt.Errorf("%w: 按面积收费的项目需要房屋面积", ErrInvalid)
	}
	whole, _ := strconv.ParseInt(m[1], 10, 64)
	frac := int64(0)
	if m[2] != "" {
		frac, _ = strconv.ParseInt((m[2] + "0")[:2], 10, 64)
	}
	hundredths := whole*100 + frac
	amount := (f.PerM2Fen*hundredths + 50) / 100
	if amount <= 0 {
		return 0, fmt.Errorf("%w: 按面积计算的金额为 0", ErrInvalid)
	}
	return amount, nil
}

// Message is the Chinese part of an ErrInvalid error of a fee item.
func Message(err error) string {
	s := err.Error()
	if m, ok := strings.CutPrefix(s, ErrInvalid.Error()+": "); ok { // "bill: invalid: <message>"
		return m
	}
	if i := strings.Index(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// IDFor is the id of the bill of one house, fee item and period: derived
// from them, so importing the same bill again names the same bill (and
// Create leaves it as it is).
func IDFor(companyID, houseID, feeItem, period string) string {
	sum := sha256.Sum256([]byte(companyID + "\x00" + houseID + "\x00" + feeItem + "\x00" + period))
	return "B" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:24])
}
