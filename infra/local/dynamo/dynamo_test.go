package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var testTables = []Table{
	{
		Name:       "orders",
		Attributes: map[string]string{"pk": "S", "sk": "S", "merchant": "S", "created": "N"},
		HashKey:    "pk", RangeKey: "sk",
		GSIs: []Index{
			{Name: "by-merchant", HashKey: "merchant", RangeKey: "created"},
			{Name: "by-merchant-keys", HashKey: "merchant", ProjectionType: "KEYS_ONLY"},
		},
		TTLAttribute:   "expires",
		StreamViewType: "NEW_AND_OLD_IMAGES",
	},
	{Name: "codes", Attributes: map[string]string{"token": "S"}, HashKey: "token"},
}

func startServer(t *testing.T, opts ...Option) (*Server, *dynamodb.Client) {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := s.CreateTables(context.Background(), testTables); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	return s, Client(s.URL())
}

type order struct {
	PK       string `dynamodbav:"pk"`
	SK       string `dynamodbav:"sk"`
	Merchant string `dynamodbav:"merchant"`
	Created  int64  `dynamodbav:"created"`
	Amount   int64  `dynamodbav:"amount_fen"`
	Status   string `dynamodbav:"status"`
}

func put(t *testing.T, c *dynamodb.Client, table string, v any) {
	t.Helper()
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

func TestCreateTablesDescribeAndIdempotent(t *testing.T) {
	s, c := startServer(t)
	ctx := context.Background()
	// Second call: existing tables are fine.
	if err := s.CreateTables(ctx, testTables); err != nil {
		t.Fatalf("second CreateTables: %v", err)
	}
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	tbl := out.Table
	if tbl.TableStatus != types.TableStatusActive {
		t.Errorf("TableStatus %q, want ACTIVE", tbl.TableStatus)
	}
	if len(tbl.KeySchema) != 2 || aws.ToString(tbl.KeySchema[0].AttributeName) != "pk" || tbl.KeySchema[0].KeyType != types.KeyTypeHash {
		t.Errorf("key schema %+v", tbl.KeySchema)
	}
	gsis := map[string]types.GlobalSecondaryIndexDescription{}
	for _, g := range tbl.GlobalSecondaryIndexes {
		gsis[aws.ToString(g.IndexName)] = g
	}
	if g, ok := gsis["by-merchant"]; !ok || len(g.KeySchema) != 2 || aws.ToString(g.KeySchema[1].AttributeName) != "created" {
		t.Errorf("by-merchant index: %+v", g)
	}
	if _, ok := gsis["by-merchant-keys"]; !ok {
		t.Errorf("by-merchant-keys missing: %+v", gsis)
	}
	// The SDK's waiter needs TableStatus.
	if err := dynamodb.NewTableExistsWaiter(c).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("codes")}, 5e9); err != nil {
		t.Fatalf("TableExistsWaiter: %v", err)
	}
	lt, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil || !reflect.DeepEqual(lt.TableNames, []string{"codes", "orders"}) {
		t.Fatalf("ListTables: %v %v", err, lt)
	}
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("orders")})
	if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expires" ||
		ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("DescribeTimeToLive: %v %+v", err, ttl)
	}
	if s.TTLAttribute("orders") != "expires" || s.TTLAttribute("codes") != "" {
		t.Fatal("TTLAttribute not recorded")
	}
}

func TestCreateTablesRejectsUntypedKey(t *testing.T) {
	s, _ := startServer(t)
	err := s.CreateTables(context.Background(), []Table{{Name: "x", HashKey: "id", Attributes: map[string]string{}}})
	if err == nil {
		t.Fatal("table with an untyped hash key accepted")
	}
}

func TestPutGetQueryGSI(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 3, Amount: 100, Status: "PAID"})
	put(t, c, "orders", order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 1, Amount: 200, Status: "NEW"})
	put(t, c, "orders", order{PK: "o#3", SK: "meta", Merchant: "m2", Created: 2, Amount: 300, Status: "NEW"})

	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "o#2"}, "sk": &types.AttributeValueMemberS{Value: "meta"},
	}})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	var o order
	if err := attributevalue.UnmarshalMap(got.Item, &o); err != nil || o.Amount != 200 {
		t.Fatalf("GetItem item %+v (%v)", o, err)
	}

	q, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String("orders"),
		IndexName:                 aws.String("by-merchant"),
		KeyConditionExpression:    aws.String("merchant = :m"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: "m1"}},
	})
	if err != nil {
		t.Fatalf("Query GSI: %v", err)
	}
	var got2 []order
	if err := attributevalue.UnmarshalListOfMaps(q.Items, &got2); err != nil {
		t.Fatal(err)
	}
	if len(got2) != 2 || got2[0].PK != "o#2" || got2[1].PK != "o#1" {
		t.Fatalf("GSI query (sorted by created) = %+v", got2)
	}
}

func TestConditionalWriteFails(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "codes", map[string]string{"token": "t1", "state": "used"})
	item, _ := attributevalue.MarshalMap(map[string]string{"token": "t1", "state": "new"})
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("codes"), Item: item, ConditionExpression: aws.String("attribute_not_exists(#t)"),
		ExpressionAttributeNames: map[string]string{"#t": "token"},
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("conditional put: %v (%T), want ConditionalCheckFailedException", err, err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("codes"),
		Key: map[string]types.AttributeValue{"token": &types.AttributeValueMemberS{Value: "t1"}}})
	if err != nil || got.Item["state"].(*types.AttributeValueMemberS).Value != "used" {
		t.Fatalf("item changed by a failed conditional put: %v %v", err, got.Item)
	}
}

func TestTransactWriteAllOrNothing(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "codes", map[string]string{"token": "taken"})
	newOrder, _ := attributevalue.MarshalMap(order{PK: "o#9", SK: "meta", Merchant: "m", Created: 1})
	newCode, _ := attributevalue.MarshalMap(map[string]string{"token": "taken"})
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("orders"), Item: newOrder}},
		{Put: &types.Put{TableName: aws.String("codes"), Item: newCode, ConditionExpression: aws.String("attribute_not_exists(#t)"),
			ExpressionAttributeNames: map[string]string{"#t": "token"}}},
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("transaction: %v (%T), want TransactionCanceledException", err, err)
	}
	if len(tce.CancellationReasons) != 2 || aws.ToString(tce.CancellationReasons[1].Code) != "ConditionalCheckFailed" {
		t.Fatalf("cancellation reasons %+v", tce.CancellationReasons)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "o#9"}, "sk": &types.AttributeValueMemberS{Value: "meta"},
	}})
	if err != nil || len(got.Item) != 0 {
		t.Fatalf("cancelled transaction wrote the order: %v %v", err, got.Item)
	}
}

func scanAll(t *testing.T, c *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
	t.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			key := fmt.Sprint(it["pk"], it["sk"], it["token"])
			out[key] = it
		}
	}
	return out
}

func TestSnapshotRestore(t *testing.T) {
	s, c := startServer(t)
	ctx := context.Background()
	// More items than one scan page and one BatchWriteItem call.
	for i := range scanPageSize + 37 {
		put(t, c, "orders", order{PK: fmt.Sprintf("o#%04d", i), SK: "meta", Merchant: "m", Created: int64(i), Amount: int64(i) * 100})
	}
	rich := map[string]types.AttributeValue{
		"token": &types.AttributeValueMemberS{Value: "rich"},
		"n":     &types.AttributeValueMemberN{Value: "12345678901234567890"},
		"b":     &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
		"ss":    &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: true}, &types.AttributeValueMemberNULL{Value: true}}},
		}},
		// No empty L or M here: minidyn v0.8.2 returns them corrupted
		// (its wire type drops them with omitempty).
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("codes"), Item: rich}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dynamo.json")
	if err := s.Snapshot(ctx, path); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	var raw map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("snapshot is not JSON: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}

	s2, c2 := startServer(t)
	if err := s2.Restore(ctx, path); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for _, table := range []string{"orders", "codes"} {
		want, got := scanAll(t, c, table), scanAll(t, c2, table)
		if len(want) != len(got) {
			t.Fatalf("%s: restored %d items, want %d", table, len(got), len(want))
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: restored items differ", table)
		}
	}
	if n := len(scanAll(t, c2, "orders")); n != scanPageSize+37 {
		t.Fatalf("orders: %d items", n)
	}
	if err := s2.Restore(ctx, filepath.Join(t.TempDir(), "missing.json")); err != nil {
		t.Fatalf("missing snapshot: %v", err)
	}
}

func TestRequestCounting(t *testing.T) {
	s, c := startServer(t)
	ctx := context.Background()
	s.ResetRequests()
	put(t, c, "codes", map[string]string{"token": "a"})
	put(t, c, "codes", map[string]string{"token": "b"})
	if _, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("codes"),
		Key: map[string]types.AttributeValue{"token": &types.AttributeValueMemberS{Value: "a"}}}); err != nil {
		t.Fatal(err)
	}
	got := s.Requests()
	if !reflect.DeepEqual(got, map[string]int64{"PutItem": 2, "GetItem": 1}) {
		t.Fatalf("Requests() = %v", got)
	}
	got["PutItem"] = 99 // a copy
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("after reset: %v", s.Requests())
	}
}

func TestAttrJSONRoundTrip(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s":  &types.AttributeValueMemberS{Value: ""},
		"n":  &types.AttributeValueMemberN{Value: "-1.5"},
		"b":  &types.AttributeValueMemberB{Value: []byte{}},
		"ns": &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
		"bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
		"em": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		"el": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"f":  &types.AttributeValueMemberBOOL{Value: false},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"x": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "y"}}},
		}},
	}
	raw, err := json.Marshal(toJSONItem(item))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]jsonAttrValue
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	got, err := fromJSONItem(back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(item, got) {
		t.Fatalf("round trip changed the item:\n%s", raw)
	}
	if _, err := fromJSONItem(map[string]jsonAttrValue{"x": {}}); err == nil {
		t.Fatal("empty attribute value accepted")
	}
}
