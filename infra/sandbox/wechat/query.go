package wechat

import (
	"encoding/json"
	"net/http"
	"slices"
)

// ownerFrom extracts and checks the merchant key of a query/close call.
func ownerFrom(m *Merchant, partner bool, mchID, spMchID, subMchID string) (string, string) {
	if partner {
		if spMchID == "" || subMchID == "" {
			return "", "sp_mchid和sub_mchid不能为空"
		}
		if spMchID != m.MchID {
			return "", "sp_mchid与请求头中的商户号不一致"
		}
		if !slices.Contains(m.SubMchIDs, subMchID) {
			return "", "sub_mchid与sp_mchid不存在受理关系"
		}
		return merchantKey(spMchID, subMchID), ""
	}
	if mchID == "" {
		return "", "mchid不能为空"
	}
	if mchID != m.MchID {
		return "", "mchid与请求头中的商户号不一致"
	}
	return merchantKey(mchID, ""), ""
}

func (s *Server) handleQuery(partner, byTxn bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		q := r.URL.Query()
		owner, msg := ownerFrom(c.merchant, partner, q.Get("mchid"), q.Get("sp_mchid"), q.Get("sub_mchid"))
		if msg != "" {
			s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", msg)
			return
		}
		no := r.PathValue("no")
		s.mu.Lock()
		var t *trade
		if byTxn {
			if cand := s.byTxn[no]; cand != nil && merchantKey(cand.mchID, cand.subMchID) == owner && cand.partner == partner {
				t = cand
			}
		} else if cand := s.trades[owner+"|"+no]; cand != nil && cand.partner == partner {
			t = cand
		}
		if t == nil {
			s.mu.Unlock()
			s.writeError(w, http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
			return
		}
		t.expireIfDue(s.now())
		resp := t.transactionJSON()
		if edit := s.answerEdits[t.outTradeNo]; edit != nil {
			edit(resp)
		}
		s.mu.Unlock()
		s.writeJSON(w, http.StatusOK, resp)
	}
}

func (s *Server) handleClose(partner bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *call) {
		var b struct {
			MchID    string `json:"mchid"`
			SpMchID  string `json:"sp_mchid"`
			SubMchID string `json:"sub_mchid"`
		}
		if err := json.Unmarshal(c.body, &b); err != nil {
			s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
			return
		}
		owner, msg := ownerFrom(c.merchant, partner, b.MchID, b.SpMchID, b.SubMchID)
		if msg != "" {
			s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", msg)
			return
		}
		s.mu.Lock()
		t := s.trades[owner+"|"+r.PathValue("no")]
		if t == nil || t.partner != partner {
			s.mu.Unlock()
			s.writeError(w, http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
			return
		}
		t.expireIfDue(s.now())
		state := t.state
		if state == StateNotPay {
			t.state = StateClosed
		}
		s.mu.Unlock()
		if state == StateSuccess || state == StateRefund {
			s.writeError(w, http.StatusBadRequest, "ORDERPAID", "订单已支付")
			return
		}
		s.log.Info("trade closed", "out_trade_no", r.PathValue("no"), "owner", owner)
		s.writeSigned(w, http.StatusNoContent, "", nil)
	}
}

// EditQueryAnswers makes the sandbox misbehave like a compromised or confused
// provider: every (still platform-signed) query answer for out_trade_no is
// passed through edit first, e.g. to report another merchant. nil restores
// honest answers.
func (s *Server) EditQueryAnswers(outTradeNo string, edit func(transaction map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answerEdits == nil {
		s.answerEdits = map[string]func(map[string]any){}
	}
	if edit == nil {
		delete(s.answerEdits, outTradeNo)
		return
	}
	s.answerEdits[outTradeNo] = edit
}
