package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func orderKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: "meta"},
	}
}

func getOrder(t *testing.T, c *dynamodb.Client, pk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: orderKey(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	return out.Item
}

func queryMerchant(t *testing.T, c *dynamodb.Client, merchant string) []string {
	t.Helper()
	out, err := c.Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String("orders"), IndexName: aws.String("by-merchant"),
		KeyConditionExpression:    aws.String("merchant = :m"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: merchant}},
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	var pks []string
	for _, it := range out.Items {
		pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
	}
	return pks
}

func TestUpdateItemRemoveAndIndexes(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})
	put(t, c, "orders", order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 2, Status: "NEW"})

	// REMOVE takes the attribute away; SET applies; ALL_OLD answers the old item.
	out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String("orders"), Key: orderKey("o#1"),
		UpdateExpression:          aws.String("SET #st = :paid REMOVE merchant, created"),
		ConditionExpression:       aws.String("#st = :new"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":paid": &types.AttributeValueMemberS{Value: "PAID"}, ":new": &types.AttributeValueMemberS{Value: "NEW"}},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}
	if s, _ := out.Attributes["status"].(*types.AttributeValueMemberS); s == nil || s.Value != "NEW" {
		t.Fatalf("ALL_OLD: %v", out.Attributes)
	}
	item := getOrder(t, c, "o#1")
	if _, ok := item["merchant"]; ok {
		t.Fatalf("REMOVE ignored: %v", item)
	}
	if s := item["status"].(*types.AttributeValueMemberS).Value; s != "PAID" {
		t.Fatalf("status %q", s)
	}
	if got := queryMerchant(t, c, "m1"); len(got) != 1 || got[0] != "o#2" {
		t.Fatalf("index after REMOVE: %v", got)
	}

	// Giving o#1 an index key again must not displace o#2's index entry.
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String("orders"), Key: orderKey("o#1"),
		UpdateExpression: aws.String("SET merchant = :m, created = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":m": &types.AttributeValueMemberS{Value: "m1"}, ":c": &types.AttributeValueMemberN{Value: "3"}},
	}); err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}
	if got := queryMerchant(t, c, "m1"); len(got) != 2 {
		t.Fatalf("index after SET: %v", got)
	}

	// A failed condition changes nothing and names the real table.
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String("orders"), Key: orderKey("o#1"),
		UpdateExpression:          aws.String("SET #st = :new"),
		ConditionExpression:       aws.String("#st = :new"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":new": &types.AttributeValueMemberS{Value: "NEW"}},
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("want ConditionalCheckFailedException, got %v", err)
	}
	if s := getOrder(t, c, "o#1")["status"].(*types.AttributeValueMemberS).Value; s != "PAID" {
		t.Fatalf("status after failed condition %q", s)
	}
}

// An update the real table rejects (an index key of the wrong type) must
// leave the item as it was, as DynamoDB does.
func TestUpdateItemRejectedKeepsItem(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String("orders"), Key: orderKey("o#1"),
		UpdateExpression:          aws.String("SET merchant = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "7"}},
	})
	if err == nil {
		t.Fatal("UpdateItem with a mistyped index key succeeded")
	}
	item := getOrder(t, c, "o#1")
	if m, _ := item["merchant"].(*types.AttributeValueMemberS); m == nil || m.Value != "m1" {
		t.Fatalf("item after rejected update: %v", item)
	}
	if got := queryMerchant(t, c, "m1"); len(got) != 1 || got[0] != "o#1" {
		t.Fatalf("index after rejected update: %v", got)
	}
}

// A client that sends a write's headers and then stalls must not block other
// callers: the request body is read before the write lock is taken.
func TestStalledWriteDoesNotBlockOthers(t *testing.T) {
	s, c := startServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"+
		"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{\"TableName\":")
	deadline := time.Now().Add(10 * time.Second)
	for s.Requests()["PutItem"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("stalled PutItem never arrived")
		}
		runtime.Gosched()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("codes"),
		Item: map[string]types.AttributeValue{"token": &types.AttributeValueMemberS{Value: "t"}}}); err != nil {
		t.Fatalf("PutItem behind a stalled client: %v", err)
	}
}
