package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/shared/web"
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
	raw, _ := json.Marshal(map[string]any{"notice": noticeID, "channel": channel, "amount_fen": amountFen})
	req, err := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/api/orders", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", RandomKey(t))
	if payerID != "" && col.WeChat != nil {
		set, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Issue(
			web.Payer{Iface: col.WeChat.ID, AppID: col.WeChat.OAuthAppID(), OpenID: payerID}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", strings.SplitN(set[0], ";", 2)[0])
	}
	resp, err := HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ = io.ReadAll(resp.Body)
	var v OrderView
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("pay notice: %v: %s", err, raw)
		}
	}
	return resp.StatusCode, v, raw
}
