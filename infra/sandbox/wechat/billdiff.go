package wechat

import (
	"encoding/json"
	"net/http"
	"time"
)

// Kinds of BillDifference.
const (
	BillMissingRow    = "missing_row"    // the trade is left out of the bill
	BillChangedAmount = "changed_amount" // the trade is billed at AmountFen
	BillExtraTrade    = "extra_trade"    // a trade the merchant never made is billed
)

// BillDifference makes the bills the sandbox renders differ from what it
// processed, for reconciliation tests and demos. Rows stay consistent with
// the summary (a changed amount changes the totals and the fee).
type BillDifference struct {
	Kind       string    `json:"kind"`
	OutTradeNo string    `json:"out_trade_no"`
	AmountFen  int64     `json:"amount_fen,omitempty"` // changed_amount, extra_trade
	MchID      string    `json:"mchid,omitempty"`      // extra_trade: whose bill
	AppID      string    `json:"appid,omitempty"`      // extra_trade
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

// handleBillDifference is POST /sandbox/bill/differences with a
// BillDifference as JSON (kind "clear" drops them all): the demos' way in.
func (s *Server) handleBillDifference(w http.ResponseWriter, r *http.Request) {
	var d BillDifference
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&d); err != nil {
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是有效的JSON")
		return
	}
	switch d.Kind {
	case "clear":
		s.ClearBillDifferences()
	case BillMissingRow, BillChangedAmount, BillExtraTrade:
		if d.OutTradeNo == "" || (d.Kind != BillMissingRow && d.AmountFen <= 0) || (d.Kind == BillExtraTrade && (d.MchID == "" || d.At.IsZero())) {
			s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "差异参数不完整")
			return
		}
		s.InjectBillDifference(d)
	default:
		s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "kind只能是missing_row、changed_amount、extra_trade或clear")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
