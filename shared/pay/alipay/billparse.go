package alipay

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/estatepay/estatepay/shared/domain"
)

// BillRow is one line of Alipay's 业务明细 (trade bill detail).
type BillRow struct {
	TradeNo         string    // 支付宝交易号
	OrderID         string    // 商户订单号 (our out_trade_no)
	Type            string    // 业务类型: 交易 or 退款
	Subject         string    // 商品名称
	CreatedAt       time.Time // 创建时间
	FinishedAt      time.Time // 完成时间 (payment or refund time)
	AmountFen       int64     // 订单金额
	ReceivedFen     int64     // 商家实收; negative for refunds
	RefundRequestNo string    // 退款批次号/请求号 (our RefundID)
	FeeFen          int64     // 服务费; negative when charged
	Refund          bool      // the row is a refund
}

// detailColumns is the number of columns of 业务明细.
const detailColumns = 25

// BillDetail extracts the 业务明细 rows from the zip TradeBill returns. It
// picks the detail file by its shape (25 columns), not by name, and trims the
// tab Alipay appends to fields. Files are GBK as Alipay writes them, or
// UTF-8 (the sandbox): a file that is not valid UTF-8 is decoded as GBK.
func BillDetail(zipBytes []byte) ([]BillRow, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		return nil, fmt.Errorf("alipay bill: not a zip: %w", err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("alipay bill: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxBillBytes))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("alipay bill: %s: %w", f.Name, err)
		}
		if !utf8.Valid(b) {
			if b, err = simplifiedchinese.GBK.NewDecoder().Bytes(b); err != nil {
				return nil, fmt.Errorf("alipay bill: %s: not GBK: %w", f.Name, err)
			}
		}
		rows, ok, err := parseDetail(b)
		if err != nil {
			return nil, fmt.Errorf("alipay bill: %s: %w", f.Name, err)
		}
		if ok {
			return rows, nil
		}
	}
	return nil, errors.New("alipay bill: no 业务明细 file in the zip")
}

// parseDetail parses a 业务明细 CSV; ok is false if b is another file.
func parseDetail(b []byte) (rows []BillRow, ok bool, err error) {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, false, nil
	}
	r := csv.NewReader(strings.NewReader(strings.Join(lines, "\n")))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, false, err
	}
	if len(recs[0]) != detailColumns {
		return nil, false, nil
	}
	for i, rec := range recs[1:] {
		if len(rec) < detailColumns {
			return nil, true, fmt.Errorf("row %d has %d columns", i+1, len(rec))
		}
		for j := range rec {
			rec[j] = strings.TrimSpace(rec[j])
		}
		row := BillRow{TradeNo: rec[0], OrderID: rec[1], Type: rec[2], Subject: rec[3], RefundRequestNo: rec[21]}
		if row.CreatedAt, err = parseTime(rec[4]); err != nil {
			return nil, true, fmt.Errorf("row %d 创建时间 %q", i+1, rec[4])
		}
		if row.FinishedAt, err = parseTime(rec[5]); err != nil {
			return nil, true, fmt.Errorf("row %d 完成时间 %q", i+1, rec[5])
		}
		for _, a := range []struct {
			dst *int64
			s   string
		}{{&row.AmountFen, rec[11]}, {&row.ReceivedFen, rec[12]}, {&row.FeeFen, rec[22]}} {
			if *a.dst, err = parseSignedYuan(a.s); err != nil {
				return nil, true, fmt.Errorf("row %d amount %q", i+1, a.s)
			}
		}
		row.Refund = row.Type == "退款" || row.RefundRequestNo != ""
		rows = append(rows, row)
	}
	return rows, true, nil
}

func parseSignedYuan(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if rest, neg := strings.CutPrefix(s, "-"); neg {
		v, err := domain.ParseYuan(rest)
		return -v, err
	}
	return domain.ParseYuan(s)
}
