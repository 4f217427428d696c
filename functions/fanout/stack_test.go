package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
)

// The demo as a person sees it (make run): the demo admin is opted in for
// 阳光花园 (demo-both); a sandbox payment puts the official-account message
// in the outbox within seconds; five more payments make no new message
// until the window ends, then one digest carries their count and sum.
func TestDemoAdminToldOfPaymentsThroughTheOutbox(t *testing.T) {
	s := stacktest.Start(t)
	ctx := context.Background()
	toAdmin := func() []outbox.Message {
		var out []outbox.Message
		for _, m := range s.Outbox().Messages() {
			if m.Channel == "wechat_oa" && m.To == stack.DemoAdminOpenID {
				out = append(out, m)
			}
		}
		return out
	}
	pay := func(amount int64) {
		t.Helper()
		o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "alipay", amount, "")
		resp, err := stacktest.HTTPClient.Get(o.Pay.RedirectURL)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("cashier: %d", resp.StatusCode)
		}
		if err := s.Alipay().Pay(o.OrderID); err != nil {
			t.Fatal(err)
		}
	}
	pay(1234)
	stacktest.WaitFor(t, "the payment message in the outbox", 10*time.Second, func() bool { return len(toAdmin()) == 1 })
	if m := toAdmin()[0]; m.Template != stack.LocalPaymentTemplateID || !strings.Contains(m.Body, "amount: 12.34元") || !strings.Contains(m.Body, "community: 阳光花园") {
		t.Fatalf("message: %+v", m)
	}
	for i := 0; i < 5; i++ {
		pay(100 + int64(i))
	}
	db, table := s.Store().DB, s.Tables["AccessTable"]
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "NOTIFYWIN#demo-admin"}, "sk": &types.AttributeValueMemberS{Value: "A"}}
	stacktest.WaitFor(t, "five payments held back", 20*time.Second, func() bool {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		n, _ := out.Item["pending_count"].(*types.AttributeValueMemberN)
		return err == nil && n != nil && n.Value == "5"
	})
	if _, err := s.FireSchedule(ctx, "FanoutFunction.Flush", ""); err != nil {
		t.Fatal(err)
	}
	if n := len(toAdmin()); n != 1 {
		t.Fatalf("%d messages while the window is open, want 1", n)
	}
	// The window ends (its end moved into the past, as ten minutes would).
	past := time.Now().Add(-time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key,
		UpdateExpression: aws.String("SET #u = :p, due_at = :p"), ExpressionAttributeNames: map[string]string{"#u": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: past}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FireSchedule(ctx, "FanoutFunction.Flush", ""); err != nil {
		t.Fatal(err)
	}
	msgs := toAdmin()
	if len(msgs) != 2 || !strings.Contains(msgs[0].Body, "count: 5笔") || !strings.Contains(msgs[0].Body, "total: 5.10元") || !strings.Contains(msgs[0].Body, "收款汇总通知") {
		t.Fatalf("after the window: %+v, want one digest of 5 payments, 5.10元", msgs)
	}
}
