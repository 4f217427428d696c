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
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// PayerCookie is the Cookie header of a WeChat payer (openid) of the
// community col, signed with the stack's key, as the landing page issues it.
func PayerCookie(t testing.TB, s *stack.Stack, col store.Collection, openID string) string {
	t.Helper()
	set, err := web.PayerCookies{Key: []byte(s.Keys().PayerCookieKey)}.Issue(web.Payer{Iface: col.WeChat.ID, AppID: col.WeChat.OAuthAppID(), OpenID: openID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitN(set[0], ";", 2)[0]
}

// Send makes one request to the gateway path with the cookie (may be "")
// and returns the status and body.
func Send(t testing.TB, s *stack.Stack, method, path, contentType, cookie string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URLs.Gateway+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// RequestInvoice posts 申请开票 as a program does (JSON) for the receipt at
// receiptPath (/c/{token}/orders/{id} or /n/{id}/orders/{oid}).
func RequestInvoice(t testing.TB, s *stack.Stack, receiptPath, cookie string, body map[string]string) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	return Send(t, s, http.MethodPost, receiptPath+"/invoice", "application/json", cookie, raw)
}

// Invoices are the stored invoices of an order, oldest first.
func Invoices(t testing.TB, s *stack.Stack, orderID string) []invoice.Invoice {
	t.Helper()
	list, err := (&store.Invoices{DB: s.Store().DB, Table: s.Tables["InvoicesTable"]}).OfOrder(context.Background(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
