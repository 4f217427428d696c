package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// billLinkTTL is how long a bill download URL stays valid (Alipay: 30s).
const billLinkTTL = 30 * time.Second

type billLink struct {
	app     App
	day     time.Time // midnight Asia/Shanghai
	expires time.Time
}

type billURLResponse struct {
	Code            string `json:"code"`
	Msg             string `json:"msg"`
	BillDownloadURL string `json:"bill_download_url"`
}

func (s *Server) billURLQuery(c *call, base string) any {
	billType, billDate := c.bizString("bill_type"), c.bizString("bill_date")
	if billType == "" || billDate == "" {
		return missing("isv.missing-parameter", "缺少必选参数 bill_type/bill_date")
	}
	if billType != "trade" {
		return invalid("isv.invalid-bill-type", "账单类型不合法")
	}
	day, err := time.ParseInLocation("2006-01-02", billDate, cst)
	if err != nil {
		return invalid("isv.invalid-bill-date", "账单日期格式不正确")
	}
	y, m, d := c.now.In(cst).Date()
	if today := time.Date(y, m, d, 0, 0, 0, 0, cst); day.After(today) || (day.Equal(today) && !s.cfg.SameDayBills) {
		return business("isp.bill_not_exist", "账单不存在")
	}
	token := randomHex(16)
	s.mu.Lock()
	s.bills[token] = billLink{app: c.app, day: day, expires: c.now.Add(billLinkTTL)}
	s.mu.Unlock()
	u := base + "/bill/download?" + url.Values{
		"bizType": {"trade"}, "bizDates": {day.Format("20060102")}, "fileType": {"csv.zip"}, "token": {token},
	}.Encode()
	return billURLResponse{Code: okCode, Msg: okMsg, BillDownloadURL: u}
}

// billRow is one line of 业务明细.
type billRow struct {
	tradeNo, outTradeNo, kind, subject string
	created, finished                  time.Time
	buyer                              string
	orderFen, receivedFen              int64
	refundNo                           string
}

// handleBillDownload serves <pid>_<yyyyMMdd>.csv.zip holding the day's
// 业务明细 and 业务明细(汇总) CSVs shaped like Alipay's (UTF-8 here; Alipay
// uses GBK). Like Alipay, data fields end with a tab.
func (s *Server) handleBillDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	link, ok := s.bills[r.URL.Query().Get("token")]
	if !ok || !s.now().Before(link.expires) {
		s.mu.Unlock()
		http.Error(w, "bill link invalid or expired", http.StatusNotFound)
		return
	}
	next := link.day.AddDate(0, 0, 1)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(link.day) && t.Before(next) }
	prefix := tradeKey(link.app, "")
	var rows []billRow
	for k, t := range s.trades {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if _, drop := s.billDiff(BillMissingRow, t.outTrade); in(t.paid) && !drop {
			billed := t.totalFen
			if d, ok := s.billDiff(BillChangedAmount, t.outTrade); ok {
				billed = d.AmountFen
			}
			rows = append(rows, billRow{t.tradeNo, t.outTrade, "交易", t.subject, t.created, t.paid, t.buyerLogon, billed, billed, ""})
		}
		for _, rf := range t.refunds {
			if in(rf.at) {
				rows = append(rows, billRow{t.tradeNo, t.outTrade, "退款", t.subject, t.created, rf.at, t.buyerLogon, t.totalFen, -rf.amountFen, rf.outRequestNo})
			}
		}
	}
	rows = append(rows, s.extraRows(link.app, link.day, next)...)
	s.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].finished.Before(rows[j].finished) })

	pid := link.app.SellerID
	if pid == "" {
		pid = link.app.AppID
	}
	date := link.day.Format("20060102")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{pid + "_" + date + "_业务明细.csv", detailCSV(pid, link.day, rows, s.now())},
		{pid + "_" + date + "_业务明细(汇总).csv", summaryCSV(pid, link.day, rows, s.now())},
	} {
		fw, err := zw.Create(f.name)
		if err == nil {
			_, err = fw.Write([]byte(f.body))
		}
		if err != nil {
			http.Error(w, "zip", http.StatusInternalServerError)
			return
		}
	}
	if err := zw.Close(); err != nil {
		http.Error(w, "zip", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+pid+"_"+date+`.csv.zip"`)
	_, _ = w.Write(buf.Bytes())
}

// DetailHeader is the column header line of 业务明细.
const DetailHeader = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"

func csvField(s string) string {
	s = strings.NewReplacer(",", "，", "\n", " ", "\r", " ").Replace(s)
	return s + "\t"
}

func period(day time.Time) string {
	return fmt.Sprintf("#起始日期：[%s]   终止日期：[%s]", day.Format("2006年01月02日 15:04:05"), day.AddDate(0, 0, 1).Format("2006年01月02日 15:04:05"))
}

func detailCSV(pid string, day time.Time, rows []billRow, now time.Time) string {
	var b strings.Builder
	b.WriteString("#支付宝业务明细查询\r\n#账号：[" + pid + "0156]\r\n" + period(day) + "\r\n")
	b.WriteString("#-----------------------------------------业务明细列表----------------------------------------\r\n")
	b.WriteString(DetailHeader + "\r\n")
	trades, refunds := 0, 0
	for _, r := range rows {
		if r.kind == "交易" {
			trades++
		} else {
			refunds++
		}
		fields := []string{
			csvField(r.tradeNo), csvField(r.outTradeNo), r.kind, csvField(r.subject),
			fmtTime(r.created), fmtTime(r.finished), "", "", "", "", csvField(r.buyer),
			domain.FormatYuan(r.orderFen), domain.FormatYuan(r.receivedFen), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
			csvField(r.refundNo), signedYuan(-serviceFee(r.receivedFen)), "0.00", "",
		}
		b.WriteString(strings.Join(fields, ",") + "\r\n")
	}
	b.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
	fmt.Fprintf(&b, "#交易合计：%d笔，退款合计：%d笔\r\n", trades, refunds)
	b.WriteString("#导出时间：[" + now.In(cst).Format("2006年01月02日 15:04:05") + "]\r\n")
	return b.String()
}

func summaryCSV(pid string, day time.Time, rows []billRow, now time.Time) string {
	var trades, refunds int
	var orderFen, receivedFen, refundFen, feeFen int64
	for _, r := range rows {
		feeFen -= serviceFee(r.receivedFen)
		if r.kind == "交易" {
			trades++
			orderFen += r.orderFen
			receivedFen += r.receivedFen
		} else {
			refunds++
			refundFen += -r.receivedFen
			receivedFen += r.receivedFen
		}
	}
	var b strings.Builder
	b.WriteString("#支付宝业务汇总查询\r\n#账号：[" + pid + "0156]\r\n" + period(day) + "\r\n")
	b.WriteString("门店编号,门店名称,交易订单总笔数,退款订单总笔数,已收入笔数,订单金额（元）,商家实收（元）,退款金额（元）,服务费（元）,分润（元）,实收净额（元）\r\n")
	fmt.Fprintf(&b, "合计,,%d,%d,%d,%s,%s,%s,%s,0.00,%s\r\n", trades, refunds, trades,
		domain.FormatYuan(orderFen), signedYuan(receivedFen), domain.FormatYuan(refundFen), signedYuan(feeFen), signedYuan(receivedFen+feeFen))
	b.WriteString("#导出时间：[" + now.In(cst).Format("2006年01月02日 15:04:05") + "]\r\n")
	return b.String()
}

// serviceFee is the sandbox's 0.6% service fee on an amount, rounded half up
// to the fen (negative amounts, refunds, give theirs back).
func serviceFee(fen int64) int64 {
	if fen < 0 {
		return -serviceFee(-fen)
	}
	return (fen*6 + 500) / 1000
}

// signedYuan formats signed fen as yuan with two decimals.
func signedYuan(fen int64) string {
	if fen < 0 {
		return "-" + domain.FormatYuan(domain.Fen(-fen))
	}
	return domain.FormatYuan(domain.Fen(fen))
}
