package template_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// staffNotifiedOfPayments follows the payments made above through
// FanoutFunction: the demo admin (opted in for demo-both) gets one
// official-account message at once (the subscribers, the throttle and the
// (event, recipient) markers, the token cached in the AccessTable, the
// community's name) while the others are held back; the window is then made
// to end, and the scheduled flush (the "due" index) sends their digest.
func staffNotifiedOfPayments(t *testing.T, s *stack.Stack) {
	t.Helper()
	ctx := context.Background()
	toAdmin := func() int {
		n := 0
		for _, m := range s.Outbox().Messages() {
			if m.Channel == "wechat_oa" && m.To == stack.DemoAdminOpenID {
				n++
			}
		}
		return n
	}
	stacktest.WaitFor(t, "the demo admin's payment message in the outbox", 20*time.Second, func() bool { return toAdmin() >= 1 })
	db, table := s.Store().DB, s.Tables["AccessTable"]
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "NOTIFYWIN#demo-admin"}, "sk": &types.AttributeValueMemberS{Value: "A"}}
	stacktest.WaitFor(t, "payments held back in the demo admin's window", 20*time.Second, func() bool {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item == nil {
			return false
		}
		n, _ := out.Item["pending_count"].(*types.AttributeValueMemberN)
		c, _ := strconv.Atoi(n.Value)
		return c >= 1
	})
	before := toAdmin()
	past := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key,
		UpdateExpression:          aws.String("SET #u = :p, due_at = :p"),
		ExpressionAttributeNames:  map[string]string{"#u": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: past}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FireSchedule(ctx, "FanoutFunction.Flush", ""); err != nil {
		t.Fatal(err)
	}
	if n := toAdmin(); n != before+1 {
		t.Fatalf("%d messages to the demo admin after the flush, want %d (one digest)", n, before+1)
	}
}
