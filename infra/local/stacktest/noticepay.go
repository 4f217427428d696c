package stacktest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/estatepay/estatepay/infra/local/stack"
)

// PayNotice asks POST /api/orders to pay notice noticeID as its pay page
// does (amount_fen: what the page showed). A WeChat payer (payerID, an
// openid) comes with the signed payer cookie of the community's WeChat app.
// It returns the HTTP status, the order (on 201/200) and the raw body.
func PayNotice(t testing.TB, s *stack.Stack, noticeID, channel string, amountFen int64, payerID string) (int, OrderView, []byte) {
	t.Helper()
	ctx := context.Background()
	n, err := s.Store().HouseRepo().GetNotice(ctx, noticeID)
	if err != nil {
		t.Fatalf("pay notice %s: %v", noticeID, err)
	}
	col, err := s.Store().LoadCommunity(ctx, n.CommunityID)
	if err != nil {
		t.Fatalf("pay notice %s: community: %v", noticeID, err)
	}
	status, raw := postOrder(t, s, col, map[string]any{"notice": noticeID, "channel": channel, "amount_fen": amountFen}, payerID)
	var v OrderView
	if status == http.StatusCreated || status == http.StatusOK {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("pay notice: %v: %s", err, raw)
		}
	}
	return status, v, raw
}
