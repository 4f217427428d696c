package wechatpay

import (
	"strings"
	"testing"
	"time"
)

// A bill in WeChat's format: CRLF lines, every value after the header
// prefixed with a backquote, 手续费 with 5 decimals, a comma inside 商品名称,
// a refund row, the summary.
const billFixture = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
	"`2026-03-02 00:00:00,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200001234202603020000000001,`o00001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`200.00,`0.00,`0,`0,`0.00,`0.00,`,`,`物业费,2026年3月,`,`1.20000,`0.60%,`200.00,`0.00,`\r\n" +
	"`2026-03-02 23:59:59,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200001234202603020000000002,`o00002,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.84,`0.00,`0,`0,`0.00,`0.00,`,`,`停车费,`,`0.00504,`0.60%,`0.84,`0.00,`\r\n" +
	"`2026-03-02 12:00:00,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200001234202603010000000009,`o00000,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50000000000000000001,`r00001,`50.00,`0.00,`ORIGINAL,`SUCCESS,`物业费,`,`-0.30000,`0.60%,`0.00,`50.00,`\r\n" +
	"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n" +
	"`3,`200.84,`50.00,`0.00,`0.90504,`200.84,`50.00\r\n"

func TestParseTradeBill(t *testing.T) {
	rows, sum, err := ParseTradeBill([]byte(billFixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || sum.Count != 3 || sum.SettleFen != 20084 || sum.RefundFen != 5000 || sum.FeeMilliFen != 90504 {
		t.Fatalf("rows %d summary %+v", len(rows), sum)
	}
	r := rows[0]
	if r.OrderID != "o00001" || r.TransactionID != "4200001234202603020000000001" || r.SettleFen != 20000 || r.FeeFen != 120 ||
		r.FeeMilliFen != 120000 || r.Rate != "0.60%" || r.SubMchID != "" || r.Refund() || r.AppID != "wx2421b1c4370ec43b" ||
		!r.At.Equal(time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("payment row %+v", r)
	}
	if rows[1].FeeMilliFen != 504 || rows[1].FeeFen != 1 {
		t.Fatalf("sub-fen fee %+v", rows[1])
	}
	f := rows[2]
	if !f.Refund() || f.OutRefundNo != "r00001" || f.RefundFen != 5000 || f.FeeFen != -30 || f.RefundStatus != "SUCCESS" {
		t.Fatalf("refund row %+v", f)
	}
}

func TestParseTradeBillRejects(t *testing.T) {
	for name, b := range map[string]string{
		"no summary":          strings.Split(billFixture, "总交易单数")[0],
		"summary disagrees":   strings.Replace(billFixture, "`3,`200.84", "`3,`200.85", 1),
		"not a bill":          "hello\r\n",
		"missing backquote":   strings.Replace(billFixture, "\r\n`2026-03-02 00:00:00", "\r\n2026-03-02 00:00:00", 1),
		"bad amount":          strings.Replace(billFixture, "`200.00,`0.00,`0,", "`2x0.00,`0.00,`0,", 1),
		"fee with 6 decimals": strings.Replace(billFixture, "`1.20000,", "`1.200000,", 1),
	} {
		if _, _, err := ParseTradeBill([]byte(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
