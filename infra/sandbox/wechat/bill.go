package wechat

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// billHeader is the column row of WeChat's ALL trade bill.
const billHeader = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"

const billSummaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"

type billFile struct {
	mchID string
	data  []byte // as served: the CSV, or its gzip (tar_type=GZIP)
	gzip  bool
}

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// feeFen is the sandbox's 0.6% service fee, rounded half up to the fen.
func feeFen(fen int64) int64 {
	if fen < 0 {
		return -feeFen(-fen)
	}
	return (fen*6 + 500) / 1000
}

// billFields writes backquote-prefixed fields like WeChat's bill files.
func billFields(fields ...string) string {
	for i, f := range fields {
		fields[i] = "`" + f
	}
	return strings.Join(fields, ",")
}

type billRow struct {
	at   time.Time
	line string
}

func (s *Server) handleTradeBill(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	day, err := time.ParseInLocation("2006-01-02", q.Get("bill_date"), shanghai)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "bill_date格式错误，应为YYYY-MM-DD")
		return
	}
	billType := q.Get("bill_type")
	if billType == "" {
		billType = "ALL"
	}
	if billType != "ALL" && billType != "SUCCESS" && billType != "REFUND" {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "bill_type只能是ALL、SUCCESS或REFUND")
		return
	}
	// Like WeChat: tar_type=GZIP serves the file gzipped, no tar_type the
	// plain file; hash_value is the SHA1 of the plain file either way.
	tarType := q.Get("tar_type")
	if tarType != "" && tarType != "GZIP" {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "tar_type只能是GZIP")
		return
	}
	sub := q.Get("sub_mchid")
	if sub != "" && !slices.Contains(c.merchant.SubMchIDs, sub) {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "sub_mchid与服务商商户号不存在受理关系")
		return
	}
	now := s.now().In(shanghai)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, shanghai)
	if day.After(today) {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "bill_date不能是未来的日期")
		return
	}
	if day.Equal(today) && !s.cfg.SameDayBills {
		s.writeError(w, http.StatusBadRequest, "STATEMENT_CREATING", "账单生成中，请在次日10点后下载")
		return
	}
	data, ok := s.buildBill(c.merchant.MchID, sub, billType, day, day.AddDate(0, 0, 1))
	if !ok {
		s.writeError(w, http.StatusBadRequest, "NO_STATEMENT_EXIST", "账单文件不存在")
		return
	}
	sum := sha1.Sum(data)
	f := &billFile{mchID: c.merchant.MchID, data: data}
	if tarType == "GZIP" {
		if f.data, err = gzipped(data); err != nil {
			s.writeError(w, http.StatusInternalServerError, "SYSTEM_ERROR", "账单压缩失败")
			return
		}
		f.gzip = true
	}
	token := randomHex(16)
	s.mu.Lock()
	s.bills[token] = f
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]string{
		"download_url": s.publicBase(r) + "/v3/billdownload/file?token=" + token,
		"hash_type":    "SHA1",
		"hash_value":   hex.EncodeToString(sum[:]),
	})
}

// buildBill renders the bill for trades paid and refunds made in [from, to).
func (s *Server) buildBill(mchID, sub, billType string, from, to time.Time) ([]byte, bool) {
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []billRow
	var count, settled, refunded, fees, orders, applied int64
	owns := func(t *trade) bool { return t.mchID == mchID && (sub == "" || t.subMchID == sub) }
	addPayment := func(t *trade) {
		fee := feeFen(t.total)
		rows = append(rows, billRow{t.paidAt, billFields(t.paidAt.In(shanghai).Format("2006-01-02 15:04:05"),
			t.appID, t.mchID, orZero(t.subMchID), "", t.txnID, t.outTradeNo, t.payerID(), t.tradeType, "SUCCESS",
			t.bankType(), "CNY", yuan(t.total), "0.00", "0", "0", "0.00", "0.00", "", "", t.desc, t.attach,
			fmt.Sprintf("%s000", yuan(fee)), "0.60%", yuan(t.total), "0.00", "")})
		count++
		settled += t.total
		orders += t.total
		fees += fee
	}
	for _, t := range s.trades {
		if !owns(t) || t.paidAt.IsZero() || !in(t.paidAt) || billType == "REFUND" {
			continue
		}
		if _, drop := s.billDiff(BillMissingRow, t.outTradeNo); drop {
			continue
		}
		billed := *t
		if d, ok := s.billDiff(BillChangedAmount, t.outTradeNo); ok {
			billed.total = d.AmountFen
		}
		addPayment(&billed)
	}
	for _, d := range s.billDiffs {
		if d.Kind == BillExtraTrade && d.MchID == mchID && sub == "" && in(d.At) && billType != "REFUND" {
			addPayment(&trade{mchID: d.MchID, appID: d.AppID, outTradeNo: d.OutTradeNo, txnID: "4200009999" + d.At.In(shanghai).Format("20060102150405"),
				openID: "oSandboxExtraPayer", tradeType: "JSAPI", desc: "沙箱注入的额外交易", total: d.AmountFen, paidAt: d.At})
		}
	}
	for _, f := range s.refunds {
		t := f.trade
		// Only refunds that went through (not processing, closed or abnormal),
		// on the day they succeeded (success_time), as WeChat lists them.
		if !owns(t) || !in(f.settled) || billType == "SUCCESS" || f.status != RefundSuccess {
			continue
		}
		fee := -feeFen(f.amount)
		rows = append(rows, billRow{f.settled, billFields(f.settled.In(shanghai).Format("2006-01-02 15:04:05"),
			t.appID, t.mchID, orZero(t.subMchID), "", t.txnID, t.outTradeNo, t.payerID(), t.tradeType, "REFUND",
			"OTHERS", "CNY", "0.00", "0.00", f.id, f.outRefundNo, yuan(f.amount), "0.00", "ORIGINAL", "SUCCESS",
			t.desc, t.attach, fmt.Sprintf("%s000", yuan(fee)), "0.60%", "0.00", yuan(f.amount), "")})
		count++
		refunded += f.amount
		applied += f.amount
		fees += fee
	}
	if len(rows) == 0 {
		return nil, false
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	var b strings.Builder
	b.WriteString(billHeader + "\r\n")
	for _, r := range rows {
		b.WriteString(r.line + "\r\n")
	}
	b.WriteString(billSummaryHeader + "\r\n")
	b.WriteString(billFields(fmt.Sprint(count), yuan(settled), yuan(refunded), "0.00",
		fmt.Sprintf("%s000", yuan(fees)), yuan(orders), yuan(applied)) + "\r\n")
	return []byte(b.String()), true
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func (t *trade) payerID() string {
	switch {
	case t.openID != "":
		return t.openID
	case t.subOpenID != "":
		return t.subOpenID
	}
	return t.spOpenID
}

// handleBillDownload serves a bill file. Like production, the file itself is
// not signed: clients verify hash_value instead.
func (s *Server) handleBillDownload(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	f := s.bills[r.URL.Query().Get("token")]
	s.mu.Unlock()
	if f == nil || f.mchID != c.merchant.MchID {
		s.writeError(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "账单文件不存在或已过期")
		return
	}
	if f.gzip {
		// The gzip file itself, not a gzip transfer encoding of the CSV.
		w.Header().Set("Content-Type", "application/octet-stream")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.Header().Set("Request-ID", strings.ToUpper(randomHex(16)))
	_, _ = w.Write(f.data)
}

// gzipped is data as one gzip member.
func gzipped(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// bankType is the bill's 付款银行 column: the sandbox marks 分付 payments
// FENFU (WeChat documents no value for it) so reconciliation can match them
// to the 分付 statement; others OTHERS.
func (t *trade) bankType() string {
	if t.fenfu {
		return "FENFU"
	}
	return "OTHERS"
}
