package template_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain/refund"
)

// adminsToldOfExceptions follows the exceptions to the company's admins
// through FanoutFunction (a company's staff and an admin's preferences: the
// company index; the (event, recipient) marker: a conditional PutItem):
// the reconciliation exceptions settleTheDay found (SettleFunction publishes
// settlement.exceptions to NotifyEventsQueue) reaches the demo admin with a
// link to 结算对账; a WeChat refund the provider finds abnormal becomes
// refund.failed (the relay publishes it to NotifyEventsQueue) and reaches
// the demo admin with a link to the payment; a message that is no event is
// put into NotifyEventsDLQ by the function with its reason.
func adminsToldOfExceptions(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	toAdmin := func(title, link string) *outbox.Message {
		for _, m := range s.Outbox().Messages() {
			if m.Channel == "wechat_oa" && m.To == stack.DemoAdminOpenID && strings.Contains(m.Body, "title: "+title) && strings.Contains(m.Body, link) {
				return &m
			}
		}
		return nil
	}
	stacktest.WaitFor(t, "the demo admin told of the reconciliation exception", 20*time.Second, func() bool {
		return toAdmin("对账差异提醒", "/admin/settlement?month=") != nil
	})
	// settleTheDay's three lost payments (one plain, two paying notices), each repaired and recorded.
	if m := toAdmin("对账差异提醒", "/admin/settlement?month="); !strings.Contains(m.Body, "count: 3条") {
		t.Fatalf("exception message %+v, want the three new exceptions", m)
	}

	// A refund WeChat reports abnormal.
	o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 3456, "oIAMRefundFailsPayer")
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the payment to refund paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	const key = "iam-refund-fails-0001"
	s.WeChat().SetRefundOutcome(refund.ID(o.OrderID, key), wechatsb.RefundAbnormal)
	c := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	req, err := http.NewRequest(http.MethodPost, c.Base+"/admin/api/orders/"+o.OrderID+"/refunds", strings.NewReader(`{"amount_fen":3456,"reason":"退款失败测试"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("refund: %d", resp.StatusCode)
	}
	if _, err := s.FireSchedule(ctx, "SweeperFunction.Sweep", ""); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the demo admin told of the failed refund", 30*time.Second, func() bool {
		return toAdmin("退款失败提醒", "/admin/orders/"+o.OrderID) != nil
	})
	if m := toAdmin("退款失败提醒", "/admin/orders/"+o.OrderID); !strings.Contains(m.Body, "amount: 34.56元") {
		t.Fatalf("refund message %+v", m)
	}

	// A poison message: into the DLQ by the function, with the reason.
	client := sqs.New(sqs.Options{Region: stack.Region, BaseEndpoint: aws.String(s.URLs.SQS),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALTEST", "local-secret", "")})
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.SQS().QueueURL("NotifyEventsQueue.fifo")),
		MessageBody: aws.String("not an event"), MessageGroupId: aws.String("iam-poison"), MessageDeduplicationId: aws.String("iam-poison-1")}); err != nil {
		t.Fatal(err)
	}
	reason := ""
	stacktest.WaitFor(t, "the poison message in NotifyEventsDLQ with its reason", 20*time.Second, func() bool {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.SQS().QueueURL("NotifyEventsDLQ.fifo")),
			MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
		if err != nil {
			return false
		}
		for _, m := range out.Messages {
			if aws.ToString(m.Body) == "not an event" && m.Attributes["MessageGroupId"] == "iam-poison" {
				reason = aws.ToString(m.MessageAttributes["reason"].StringValue)
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(reason, "poison: body is not JSON") {
		t.Fatalf("DLQ reason %q", reason)
	}
}

// FanoutFunction sends a message to the DLQ itself on its last allowed
// receive: it must know the queue's maxReceiveCount.
func TestFanoutKnowsItsQueuesMaxReceiveCount(t *testing.T) {
	tm := loadProduct(t)
	qs, err := tm.Queues()
	if err != nil {
		t.Fatal(err)
	}
	max := 0
	for _, q := range qs {
		if q.LogicalID == "NotifyEventsQueue" {
			max = q.MaxReceiveCount
		}
	}
	for _, f := range tm.Functions() {
		if f.LogicalID != "FanoutFunction" {
			continue
		}
		if got, _ := f.Environment["NOTIFY_MAX_RECEIVES"].(string); max == 0 || got != strconv.Itoa(max) {
			t.Fatalf("FanoutFunction NOTIFY_MAX_RECEIVES %v, NotifyEventsQueue maxReceiveCount %d", f.Environment["NOTIFY_MAX_RECEIVES"], max)
		}
		return
	}
	t.Fatal("no FanoutFunction")
}
