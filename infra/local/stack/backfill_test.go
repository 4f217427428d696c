package stack_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// State saved before the BillsTable's `overdue` index existed (bills
// without od_pk/od_sk) is migrated when the stack starts on it: the demo
// community's owed bills are in the index again, so `make remind` finds
// them on an old .local/ too.
func TestRestartBackfillsTheOverdueIndex(t *testing.T) {
	dir := t.TempDir()
	s := stacktest.Start(t, stacktest.Options{StateDir: dir})
	ctx := context.Background()
	pk := stack.DemoCompanyID + "#demo-both"
	indexed := func(s *stack.Stack) []map[string]types.AttributeValue {
		t.Helper()
		var keys []map[string]types.AttributeValue
		in := &dynamodb.QueryInput{TableName: aws.String(s.Tables["BillsTable"]), IndexName: aws.String("overdue"),
			KeyConditionExpression:    aws.String("od_pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: pk}}}
		for {
			out, err := s.Store().DB.Query(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				keys = append(keys, map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]})
			}
			if len(out.LastEvaluatedKey) == 0 {
				return keys
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	owed := indexed(s)
	if len(owed) == 0 {
		t.Fatal("the demo community has no owed bill in the overdue index")
	}
	for _, k := range owed { // as written before the index existed
		if _, err := s.Store().DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.Tables["BillsTable"]),
			Key: k, UpdateExpression: aws.String("REMOVE od_pk, od_sk")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(indexed(s)); n != 0 {
		t.Fatalf("%d bills still indexed after removing the attributes", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := stacktest.Start(t, stacktest.Options{StateDir: dir})
	if n := len(indexed(s2)); n != len(owed) {
		t.Fatalf("after a restart %d bills are in the overdue index, want the %d owed", n, len(owed))
	}
}
