package alipay

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"time"
)

// Kinds of BillDifference (the same as the WeChat sandbox's).
const (
	BillMissingRow    = "missing_row"    // the trade's payment row is left out of the bill
	BillChangedAmount = "changed_amount" // the trade is billed at AmountFen
	BillExtraTrade    = "extra_trade"    // a trade the merchant never made is billed
)

// BillDifference makes the bills the sandbox renders differ from what it
// processed, for reconciliation tests and demos. Rows stay consistent with
// the 汇总 file (a changed amount changes the totals and the 服务费).
type BillDifference struct {
	Kind       string    `json:"kind"`
	OutTradeNo string    `json:"out_trade_no"`
	AmountFen  int64     `json:"amount_fen,omitempty"` // changed_amount, extra_trade
	SellerID   string    `json:"seller_id,omitempty"`  // extra_trade: whose bill (the merchant's 2088… pid)
	AppID      string    `json:"app_id,omitempty"`     // extra_trade: whose bill, for an app without a seller id
	At         time.Time `json:"at,omitempty"`         // extra_trade: when it was paid
}

// InjectBillDifference registers a difference; ClearBillDifferences drops them.
func (s *Server) InjectBillDifference(d BillDifference) {
	s.mu.Lock()
	s.billDiffs = append(s.billDiffs, d)
	s.mu.Unlock()
}

// ClearBillDifferences makes bills faithful again.
func (s *Server) ClearBillDifferences() {
	s.mu.Lock()
	s.billDiffs = nil
	s.mu.Unlock()
}

// billDiff returns the difference registered for a trade (mu held).
func (s *Server) billDiff(kind, outTradeNo string) (BillDifference, bool) {
	for _, d := range s.billDiffs {
		if d.Kind == kind && d.OutTradeNo == outTradeNo {
			return d, true
		}
	}
	return BillDifference{}, false
}

// extraRows are the injected trades billed to app in [from, to) (mu held).
func (s *Server) extraRows(app App, from, to time.Time) []billRow {
	var rows []billRow
	for _, d := range s.billDiffs {
		mine := (d.SellerID != "" && d.SellerID == app.SellerID) || (d.SellerID == "" && d.AppID != "" && d.AppID == app.AppID)
		if d.Kind != BillExtraTrade || !mine || d.At.Before(from) || !d.At.Before(to) {
			continue
		}
		// A trade_no shaped like Alipay's (date + 22001 + 15 digits), stable for the trade.
		no := fmt.Sprintf("%s22001%015d", d.At.In(cst).Format("20060102"), crc32.ChecksumIEEE([]byte(d.OutTradeNo)))
		rows = append(rows, billRow{no, d.OutTradeNo, "交易", "沙箱注入的额外交易", d.At, d.At, "138******00", d.AmountFen, d.AmountFen, ""})
	}
	return rows
}

// handleBillDifference is POST /sandbox/bill/differences with a
// BillDifference as JSON (kind "clear" drops them all): the demos' way in.
func (s *Server) handleBillDifference(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_difference", "message": msg})
	}
	var d BillDifference
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&d); err != nil {
		fail("请求体不是有效的JSON")
		return
	}
	switch d.Kind {
	case "clear":
		s.ClearBillDifferences()
	case BillMissingRow, BillChangedAmount, BillExtraTrade:
		if d.OutTradeNo == "" || (d.Kind != BillMissingRow && d.AmountFen <= 0) ||
			(d.Kind == BillExtraTrade && ((d.SellerID == "" && d.AppID == "") || d.At.IsZero())) {
			fail("差异参数不完整")
			return
		}
		s.InjectBillDifference(d)
	default:
		fail("kind只能是missing_row、changed_amount、extra_trade或clear")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
