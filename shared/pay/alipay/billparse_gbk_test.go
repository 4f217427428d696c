package alipay

import (
	"archive/zip"
	"bytes"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// A bill as Alipay writes it: a csv.zip of GBK files (names too), '#'
// comment lines around the detail table, full-width brackets in the
// headers, id-like cells ending in a TAB, a refund as 业务类型 退款 with
// negative amounts and its out_request_no, and the 汇总 file beside it.
func TestBillDetailGBKFixture(t *testing.T) {
	detail := "#支付宝业务明细查询\r\n#账号：[20880000000000010156]\r\n#起始日期：[2026年03月02日 00:00:00]   终止日期：[2026年03月03日 00:00:00]\r\n" +
		"#-----------------------------------------业务明细列表----------------------------------------\r\n" +
		"支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n" +
		"2026030222001400001000000001\t,EPORDER0001\t,交易,物业费 2026年3月,2026-03-02 00:00:00,2026-03-02 00:00:01,,,,,abc***@163.com,100.00,100.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.60,0.00,\r\n" +
		"2026030222001400001000000001\t,EPORDER0001\t,退款,物业费 2026年3月,2026-03-02 00:00:00,2026-03-02 23:59:59,,,,,abc***@163.com,100.00,-30.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,RF0001\t,0.18,0.00,\r\n" +
		"#-----------------------------------------业务明细列表结束------------------------------------\r\n#交易合计：1笔，退款合计：1笔\r\n#导出时间：[2026年03月03日 09:12:00]\r\n"
	summary := "#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）\r\n合计,,1,1,100.00,70.00\r\n"
	gbk := func(s string) []byte {
		b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		body []byte
	}{{"20880000000000010156_20260302_业务明细(汇总).csv", gbk(summary)}, {"20880000000000010156_20260302_业务明细.csv", gbk(detail)}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: string(gbk(f.name)), Method: zip.Deflate}) // names in GBK, no UTF-8 flag
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := BillDetail(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	p, r := rows[0], rows[1]
	if p.TradeNo != "2026030222001400001000000001" || p.OrderID != "EPORDER0001" || p.Refund || p.AmountFen != 10000 || p.ReceivedFen != 10000 ||
		p.FeeFen != -60 || p.Subject != "物业费 2026年3月" || p.FinishedAt.Format("2006-01-02 15:04:05") != "2026-03-02 00:00:01" {
		t.Fatalf("payment row %+v", p)
	}
	if !r.Refund || r.Type != "退款" || r.RefundRequestNo != "RF0001" || r.ReceivedFen != -3000 || r.FeeFen != 18 ||
		r.FinishedAt.Format("2006-01-02 15:04:05") != "2026-03-02 23:59:59" {
		t.Fatalf("refund row %+v", r)
	}
}
