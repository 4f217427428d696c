package wechatpay

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
)

// BillRow is one detail line of WeChat Pay's ALL trade bill: a payment
// (交易状态 SUCCESS) or a refund (交易状态 REFUND).
type BillRow struct {
	At            time.Time // 交易时间 (Asia/Shanghai)
	AppID         string    // 公众账号ID
	MchID         string    // 商户号
	SubMchID      string    // 特约商户号 ("0" when none: "")
	TransactionID string    // 微信订单号
	OrderID       string    // 商户订单号 (our out_trade_no)
	Status        string    // 交易状态: SUCCESS, REFUND, …
	SettleFen     int64     // 应结订单金额
	RefundID      string    // 微信退款单号
	OutRefundNo   string    // 商户退款单号 (our refund id)
	RefundFen     int64     // 退款金额
	RefundStatus  string    // 退款状态
	// FeeMilliFen is 手续费 exactly (5 decimals of a yuan = 1/1000 fen),
	// negative on refunds (the fee given back); FeeFen is it rounded half
	// up to the fen.
	FeeMilliFen int64
	FeeFen      int64
	Rate        string // 费率, e.g. "0.60%"
	OrderFen    int64  // 订单金额
}

// Refund reports whether the row is a refund.
func (r BillRow) Refund() bool { return r.Status == "REFUND" }

// BillSummary is the bill's summary line.
type BillSummary struct {
	Count       int64 // 总交易单数
	SettleFen   int64 // 应结订单总金额
	RefundFen   int64 // 退款总金额
	FeeMilliFen int64 // 手续费总金额
	OrderFen    int64 // 订单总金额
}

const (
	billColumns        = 27
	billSummaryColumns = 7
)

// ParseTradeBill parses the ALL trade bill TradeBill returns: a header
// line, detail lines whose every value is prefixed with a backquote
// (amounts in yuan, 手续费 with 5 decimals, 费率 like 0.60%), then the
// summary header and one summary line. It checks the detail against the
// summary (count, amounts, fees).
func ParseTradeBill(b []byte) ([]BillRow, BillSummary, error) {
	lines := strings.Split(strings.TrimPrefix(string(b), "\ufeff"), "\n")
	var rows []BillRow
	var sum BillSummary
	state := 0 // 0 header, 1 details, 2 summary line, 3 done
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		switch {
		case state == 0:
			if !strings.HasPrefix(l, "交易时间,") || len(strings.Split(l, ",")) != billColumns {
				return nil, sum, fmt.Errorf("wechatpay bill: line %d: not the trade bill header", i+1)
			}
			state = 1
		case state == 1 && strings.HasPrefix(l, "总交易单数,"):
			state = 2
		case state == 1:
			f, err := billValues(l, billColumns)
			if err != nil {
				return nil, sum, fmt.Errorf("wechatpay bill: line %d: %w", i+1, err)
			}
			row, err := billRow(f)
			if err != nil {
				return nil, sum, fmt.Errorf("wechatpay bill: line %d: %w", i+1, err)
			}
			rows = append(rows, row)
		case state == 2:
			f, err := billValues(l, billSummaryColumns)
			if err != nil {
				return nil, sum, fmt.Errorf("wechatpay bill: summary: %w", err)
			}
			if sum.Count, err = strconv.ParseInt(f[0], 10, 64); err != nil {
				return nil, sum, fmt.Errorf("wechatpay bill: summary count %q", f[0])
			}
			for _, a := range []struct {
				dst *int64
				s   string
			}{{&sum.SettleFen, f[1]}, {&sum.RefundFen, f[2]}, {&sum.OrderFen, f[5]}} {
				if *a.dst, err = signedYuan(a.s); err != nil {
					return nil, sum, fmt.Errorf("wechatpay bill: summary amount %q", a.s)
				}
			}
			if sum.FeeMilliFen, err = milliFen(f[4]); err != nil {
				return nil, sum, fmt.Errorf("wechatpay bill: summary fee %q", f[4])
			}
			state = 3
		default:
			return nil, sum, fmt.Errorf("wechatpay bill: line %d after the summary", i+1)
		}
	}
	if state != 3 {
		return nil, sum, errors.New("wechatpay bill: no summary line")
	}
	var c BillSummary
	for _, r := range rows {
		c.Count++
		c.SettleFen += r.SettleFen
		c.RefundFen += r.RefundFen
		c.FeeMilliFen += r.FeeMilliFen
	}
	if c.Count != sum.Count || c.SettleFen != sum.SettleFen || c.RefundFen != sum.RefundFen || c.FeeMilliFen != sum.FeeMilliFen {
		return nil, sum, fmt.Errorf("wechatpay bill: details (%+v) disagree with the summary (%+v)", c, sum)
	}
	return rows, sum, nil
}

// billValues splits a line whose every value starts with a backquote. It
// splits on ",`" so a comma inside a value (商品名称) stays in it.
func billValues(l string, n int) ([]string, error) {
	if !strings.HasPrefix(l, "`") {
		return nil, errors.New("values must start with a backquote")
	}
	f := strings.Split(l[1:], ",`")
	if len(f) != n {
		return nil, fmt.Errorf("%d values, want %d", len(f), n)
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f, nil
}

func billRow(f []string) (BillRow, error) {
	at, err := time.ParseInLocation("2006-01-02 15:04:05", f[0], shanghai)
	if err != nil {
		return BillRow{}, fmt.Errorf("交易时间 %q", f[0])
	}
	r := BillRow{At: at, AppID: f[1], MchID: f[2], SubMchID: f[3], TransactionID: f[5], OrderID: f[6], Status: f[9],
		RefundID: f[14], OutRefundNo: f[15], RefundStatus: f[19], Rate: f[23]}
	if r.SubMchID == "0" {
		r.SubMchID = ""
	}
	if r.RefundID == "0" {
		r.RefundID = ""
	}
	if r.OutRefundNo == "0" {
		r.OutRefundNo = ""
	}
	for _, a := range []struct {
		dst  *int64
		s, n string
	}{{&r.SettleFen, f[12], "应结订单金额"}, {&r.RefundFen, f[16], "退款金额"}, {&r.OrderFen, f[24], "订单金额"}} {
		if *a.dst, err = signedYuan(a.s); err != nil {
			return BillRow{}, fmt.Errorf("%s %q", a.n, a.s)
		}
	}
	if r.FeeMilliFen, err = milliFen(f[22]); err != nil {
		return BillRow{}, fmt.Errorf("手续费 %q", f[22])
	}
	r.FeeFen = roundMilli(r.FeeMilliFen)
	return r, nil
}

func signedYuan(s string) (int64, error) {
	if rest, neg := strings.CutPrefix(s, "-"); neg {
		v, err := domain.ParseYuan(rest)
		return -v, err
	}
	return domain.ParseYuan(s)
}

// milliFen parses a yuan amount with up to 5 decimals as 1/1000 fen.
func milliFen(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, frac, _ := strings.Cut(s, ".")
	if ip == "" || len(frac) > 5 || strings.ContainsAny(ip+frac, "+-") {
		return 0, domain.ErrAmount
	}
	for len(frac) < 5 {
		frac += "0"
	}
	v, err := strconv.ParseInt(ip+frac, 10, 64)
	if err != nil {
		return 0, domain.ErrAmount
	}
	if neg {
		v = -v
	}
	return v, nil
}

// roundMilli rounds 1/1000 fen to the fen, half away from zero.
func roundMilli(m int64) int64 {
	if m < 0 {
		return -roundMilli(-m)
	}
	return (m + 500) / 1000
}
