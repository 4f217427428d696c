package alipay_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sandbox "github.com/estatepay/estatepay/infra/sandbox/alipay"
	"github.com/estatepay/estatepay/shared/pay"
	"github.com/estatepay/estatepay/shared/pay/alipay"
)

// summaryLine is the 合计 line of the bill's 业务明细(汇总) file.
func summaryLine(t *testing.T, zipBytes []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "_业务明细(汇总).csv") {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			for _, l := range strings.Split(string(b), "\r\n") {
				if strings.HasPrefix(l, "合计,") {
					return strings.Split(l, ",")
				}
			}
		}
	}
	t.Fatal("no 合计 line")
	return nil
}

// The sandbox's Alipay bill, fetched through the adapter, parses with
// BillDetail; each injected difference (through the Go API or the control
// endpoint) shows in it and nothing else, and the 汇总 file follows.
func TestSandboxBillCarriesInjectedDifferences(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day := e.clock.Now()
	for _, o := range []struct {
		id  string
		fen int64
	}{{"ALI_A", 10000}, {"ALI_B", 20000}, {"ALI_C", 30000}} {
		e.paidTrade(t, o.id, o.fen)
	}
	if _, err := e.p.Refund(ctx, pay.RefundRequest{OrderID: "ALI_A", RefundID: "R_ALI_A", AmountFen: 2500, TotalFen: 10000}); err != nil {
		t.Fatal(err)
	}
	e.waitNote(t)
	e.clock.Advance(24 * time.Hour)

	fetch := func() (map[string]alipay.BillRow, []string) {
		t.Helper()
		b, err := e.p.TradeBill(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := alipay.BillDetail(b)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]alipay.BillRow{}
		for _, r := range rows {
			k := r.OrderID
			if r.Refund {
				k = r.RefundRequestNo
			}
			out[k] = r
		}
		return out, summaryLine(t, b)
	}
	faithful, sum := fetch()
	if len(faithful) != 4 || faithful["ALI_B"].AmountFen != 20000 || faithful["ALI_B"].FeeFen != -120 || faithful["R_ALI_A"].ReceivedFen != -2500 {
		t.Fatalf("faithful bill %+v", faithful)
	}
	// 合计: 3 trades, 1 refund, 商家实收 600.00-25.00, 服务费 -(0.60+1.20+1.80-0.15), net.
	if want := "合计,,3,1,3,600.00,575.00,25.00,-3.45,0.00,571.55"; strings.Join(sum, ",") != want {
		t.Fatalf("faithful 合计 %v, want %s", sum, want)
	}

	post := func(body string) (int, map[string]string) {
		t.Helper()
		resp, err := http.Post(e.gw.URL+"/sandbox/bill/differences", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	e.sb.InjectBillDifference(sandbox.BillDifference{Kind: sandbox.BillMissingRow, OutTradeNo: "ALI_A"})
	e.sb.InjectBillDifference(sandbox.BillDifference{Kind: sandbox.BillChangedAmount, OutTradeNo: "ALI_B", AmountFen: 19900})
	at := day.Add(time.Hour).Format(time.RFC3339)
	if st, _ := post(`{"kind":"extra_trade","out_trade_no":"ALI_X","amount_fen":777,"seller_id":"` + testSeller + `","at":"` + at + `"}`); st != http.StatusNoContent {
		t.Fatalf("inject extra trade: %d", st)
	}
	// Another merchant's extra trade, and one on another day, are not in this bill.
	if st, _ := post(`{"kind":"extra_trade","out_trade_no":"ALI_Y","amount_fen":1,"seller_id":"2088999999999999","at":"` + at + `"}`); st != http.StatusNoContent {
		t.Fatalf("inject: %d", st)
	}
	e.sb.InjectBillDifference(sandbox.BillDifference{Kind: sandbox.BillExtraTrade, OutTradeNo: "ALI_Z", AmountFen: 1, SellerID: testSeller, At: day.AddDate(0, 0, 1)})

	changed, sum := fetch()
	if _, ok := changed["ALI_A"]; ok {
		t.Fatal("missing row still billed")
	}
	if r := changed["ALI_B"]; r.AmountFen != 19900 || r.ReceivedFen != 19900 || r.FeeFen != -119 {
		t.Fatalf("changed amount %+v", r)
	}
	if r := changed["ALI_X"]; r.AmountFen != 777 || r.ReceivedFen != 777 || r.Refund || r.Type != "交易" || len(r.TradeNo) != 28 || !r.FinishedAt.Equal(day.Add(time.Hour)) {
		t.Fatalf("extra trade %+v", r)
	}
	if changed["ALI_C"] != faithful["ALI_C"] || changed["R_ALI_A"] != faithful["R_ALI_A"] || len(changed) != 4 {
		t.Fatalf("other rows changed: %+v", changed)
	}
	// 3 trades (B at 199.00: fee 1.19; C: 1.80; X at 7.77: 0.05), A's refund (-0.15) still there.
	if want := "合计,,3,1,3,506.77,481.77,25.00,-2.89,0.00,478.88"; strings.Join(sum, ",") != want {
		t.Fatalf("合计 after the differences %v, want %s", sum, want)
	}

	for body, want := range map[string]string{
		`{"kind":"changed_amount","out_trade_no":"ALI_C"}`:             "差异参数不完整",
		`{"kind":"extra_trade","out_trade_no":"ALI_Q","amount_fen":5}`: "差异参数不完整",
		`{"kind":"missing_row"}`:                                       "差异参数不完整",
		`{"kind":"swap_rows","out_trade_no":"ALI_C"}`:                  "kind只能是",
		`not json`: "不是有效的JSON",
	} {
		if st, out := post(body); st != http.StatusBadRequest || out["error"] != "invalid_difference" || !strings.Contains(out["message"], want) {
			t.Errorf("%s: %d %v", body, st, out)
		}
	}
	if st, _ := post(`{"kind":"clear"}`); st != http.StatusNoContent {
		t.Fatalf("clear: %d", st)
	}
	if again, _ := fetch(); len(again) != 4 || again["ALI_B"].AmountFen != 20000 || again["ALI_A"].AmountFen != 10000 {
		t.Fatalf("after clearing %+v", again)
	}
}
