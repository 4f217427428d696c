package dynamo

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func nv(n string) types.AttributeValue { return &types.AttributeValueMemberN{Value: n} }

func codeKey(token string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"token": sv(token)}
}

func getCode(t *testing.T, c *dynamodb.Client, token string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("codes"), Key: codeKey(token), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem %s: %v", token, err)
	}
	return out.Item
}

func apiCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func sorted(s []string) []string { slices.Sort(s); return s }

// A transaction with every action kind writes all of it, updates indexes
// right (an item gaining and losing index keys) and applies REMOVE.
func TestTransactWriteAllKinds(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})
	put(t, c, "orders", order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 2, Status: "NEW"})
	put(t, c, "orders", map[string]any{"pk": "o#3", "sk": "meta", "status": "NEW"}) // no index keys
	put(t, c, "codes", map[string]string{"token": "live"})

	newCode, _ := attributevalue.MarshalMap(map[string]string{"token": "fresh"})
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#1"),
			UpdateExpression:          aws.String("SET merchant = :m2 REMOVE #st"),
			ConditionExpression:       aws.String("#st = :new"),
			ExpressionAttributeNames:  map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":m2": sv("m2"), ":new": sv("NEW")}}},
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#3"),
			UpdateExpression:          aws.String("SET merchant = :m, created = :c"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":m": sv("m1"), ":c": nv("3")}}},
		{Delete: &types.Delete{TableName: aws.String("orders"), Key: orderKey("o#2"), ConditionExpression: aws.String("attribute_exists(pk)")}},
		{Put: &types.Put{TableName: aws.String("codes"), Item: newCode, ConditionExpression: aws.String("attribute_not_exists(#t)"),
			ExpressionAttributeNames: map[string]string{"#t": "token"}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("codes"), Key: codeKey("live"), ConditionExpression: aws.String("attribute_exists(#t)"),
			ExpressionAttributeNames: map[string]string{"#t": "token"}}},
	}})
	if err != nil {
		t.Fatalf("TransactWriteItems: %v", err)
	}
	o1 := getOrder(t, c, "o#1")
	if m, _ := o1["merchant"].(*types.AttributeValueMemberS); m == nil || m.Value != "m2" {
		t.Fatalf("o#1 after transaction: %v", o1)
	}
	if _, ok := o1["status"]; ok {
		t.Fatalf("REMOVE in a transaction ignored: %v", o1)
	}
	if got := getOrder(t, c, "o#2"); got != nil {
		t.Fatalf("o#2 not deleted: %v", got)
	}
	if getCode(t, c, "fresh") == nil {
		t.Fatal("put in transaction not written")
	}
	if got := queryMerchant(t, c, "m1"); !reflect.DeepEqual(got, []string{"o#3"}) {
		t.Fatalf("index m1 = %v, want [o#3]", got)
	}
	if got := queryMerchant(t, c, "m2"); !reflect.DeepEqual(got, []string{"o#1"}) {
		t.Fatalf("index m2 = %v, want [o#1]", got)
	}
}

// One failed condition cancels the whole transaction; the SDK decodes the
// reasons, one per action, with the old item where ALL_OLD was asked for.
func TestTransactWriteCancelled(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})
	put(t, c, "codes", map[string]string{"token": "used", "state": "used"})
	newOrder, _ := attributevalue.MarshalMap(order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 2})
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#1"),
			UpdateExpression:          aws.String("SET merchant = :m2 REMOVE #st"),
			ExpressionAttributeNames:  map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":m2": sv("m2")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("codes"), Key: codeKey("used"),
			ConditionExpression:                 aws.String("#s = :new"),
			ExpressionAttributeNames:            map[string]string{"#s": "state"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":new": sv("new")},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
		{Put: &types.Put{TableName: aws.String("orders"), Item: newOrder}},
		{Delete: &types.Delete{TableName: aws.String("codes"), Key: codeKey("absent"), ConditionExpression: aws.String("attribute_exists(#t)"),
			ExpressionAttributeNames: map[string]string{"#t": "token"}, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("got %v (%T), want TransactionCanceledException", err, err)
	}
	const msg = "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None, ConditionalCheckFailed]"
	if aws.ToString(tce.Message) != msg {
		t.Errorf("message %q", aws.ToString(tce.Message))
	}
	r := tce.CancellationReasons
	if len(r) != 4 {
		t.Fatalf("%d reasons: %+v", len(r), r)
	}
	for i, want := range []string{"None", "ConditionalCheckFailed", "None", "ConditionalCheckFailed"} {
		if aws.ToString(r[i].Code) != want {
			t.Errorf("reason %d: %q, want %q", i, aws.ToString(r[i].Code), want)
		}
	}
	if aws.ToString(r[1].Message) != "The conditional request failed" {
		t.Errorf("reason message %q", aws.ToString(r[1].Message))
	}
	if st, _ := r[1].Item["state"].(*types.AttributeValueMemberS); st == nil || st.Value != "used" {
		t.Errorf("ALL_OLD item of the failed check: %v", r[1].Item)
	}
	if r[3].Item != nil || r[0].Item != nil {
		t.Errorf("items on reasons that must have none: %v %v", r[0].Item, r[3].Item)
	}
	// Nothing was written.
	o1 := getOrder(t, c, "o#1")
	if m := o1["merchant"].(*types.AttributeValueMemberS).Value; m != "m1" || o1["status"] == nil {
		t.Fatalf("o#1 changed by a cancelled transaction: %v", o1)
	}
	if getOrder(t, c, "o#2") != nil {
		t.Fatal("o#2 written by a cancelled transaction")
	}
	if got := queryMerchant(t, c, "m1"); !reflect.DeepEqual(got, []string{"o#1"}) {
		t.Fatalf("index after cancelled transaction: %v", got)
	}
}

// If the table refuses one of the new items (an index key of the wrong
// type), the items written before it are put back.
func TestTransactWriteRefusedItemUndoesAll(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})
	put(t, c, "orders", order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 2, Status: "NEW"})
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#1"), UpdateExpression: aws.String("REMOVE merchant")}},
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#2"), UpdateExpression: aws.String("SET merchant = :n"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": nv("7")}}},
	}})
	if err == nil {
		t.Fatal("transaction with a mistyped index key succeeded")
	}
	if got := sorted(queryMerchant(t, c, "m1")); !reflect.DeepEqual(got, []string{"o#1", "o#2"}) {
		t.Fatalf("index after refused transaction: %v", got)
	}
	if getOrder(t, c, "o#1")["merchant"] == nil {
		t.Fatal("first update of a refused transaction kept")
	}
}

func TestTransactWriteValidation(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1})
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#1"), UpdateExpression: aws.String("SET a = :a"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":a": sv("x")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("orders"), Key: orderKey("o#1"), ConditionExpression: aws.String("attribute_exists(pk)")}},
	}})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("two actions on one item: %v", err)
	}
	var ve interface{ ErrorMessage() string }
	if errors.As(err, &ve); ve == nil || ve.ErrorMessage() != "Transaction request cannot include multiple operations on one item" {
		t.Fatalf("message: %v", err)
	}
	if _, ok := getOrder(t, c, "o#1")["a"]; ok {
		t.Fatal("rejected transaction wrote")
	}
	var many []types.TransactWriteItem
	for i := range 101 {
		it, _ := attributevalue.MarshalMap(map[string]string{"token": fmt.Sprint("t", i)})
		many = append(many, types.TransactWriteItem{Put: &types.Put{TableName: aws.String("codes"), Item: it}})
	}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: many}); apiCode(err) != "ValidationException" {
		t.Fatalf("101 actions: %v", err)
	}
	if getCode(t, c, "t0") != nil {
		t.Fatal("rejected 101-action transaction wrote")
	}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: many[:100]}); err != nil {
		t.Fatalf("100 actions: %v", err)
	}
	// A syntax error fails the whole request, not one action.
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#1"), UpdateExpression: aws.String("SET = oops")}},
	}})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("bad expression: %v", err)
	}
	// Unknown table.
	_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String("nope"), Key: codeKey("x")}},
	}})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("unknown table: %v", err)
	}
}

// A retried transaction (same ClientRequestToken, same parameters) is not
// applied twice; the same token with other parameters is refused.
func TestTransactWriteClientRequestToken(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	in := func(n string) *dynamodb.TransactWriteItemsInput {
		return &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("tok-1"), TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String("codes"), Key: codeKey("ctr"), UpdateExpression: aws.String("ADD n :one"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":one": nv(n)}}},
		}}
	}
	for range 2 {
		if _, err := c.TransactWriteItems(ctx, in("1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := getCode(t, c, "ctr")["n"].(*types.AttributeValueMemberN).Value; n != "1" {
		t.Fatalf("counter %s after a retried transaction, want 1", n)
	}
	_, err := c.TransactWriteItems(ctx, in("2"))
	if apiCode(err) != "IdempotentParameterMismatchException" {
		t.Fatalf("same token, other parameters: %v", err)
	}
}

func TestTransactGetItems(t *testing.T) {
	_, c := startServer(t)
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Amount: 100})
	put(t, c, "codes", map[string]string{"token": "a", "state": "new"})
	out, err := c.TransactGetItems(context.Background(), &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("orders"), Key: orderKey("o#1")}},
		{Get: &types.Get{TableName: aws.String("codes"), Key: codeKey("missing")}},
		{Get: &types.Get{TableName: aws.String("codes"), Key: codeKey("a"), ProjectionExpression: aws.String("#s"),
			ExpressionAttributeNames: map[string]string{"#s": "state"}}},
	}})
	if err != nil {
		t.Fatalf("TransactGetItems: %v", err)
	}
	if len(out.Responses) != 3 {
		t.Fatalf("%d responses", len(out.Responses))
	}
	if a, _ := out.Responses[0].Item["amount_fen"].(*types.AttributeValueMemberN); a == nil || a.Value != "100" {
		t.Errorf("first: %v", out.Responses[0].Item)
	}
	if len(out.Responses[1].Item) != 0 {
		t.Errorf("missing item: %v", out.Responses[1].Item)
	}
	if got := out.Responses[2].Item; len(got) != 1 || got["state"] == nil {
		t.Errorf("projection: %v", got)
	}
}

func TestBatchWriteAndGet(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1})
	put(t, c, "orders", order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 2})
	mk := func(v any) map[string]types.AttributeValue { m, _ := attributevalue.MarshalMap(v); return m }
	out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"orders": {
			{PutRequest: &types.PutRequest{Item: mk(order{PK: "o#3", SK: "meta", Merchant: "m1", Created: 3})}},
			{PutRequest: &types.PutRequest{Item: mk(map[string]string{"pk": "o#1", "sk": "meta", "note": "no index keys now"})}},
			{DeleteRequest: &types.DeleteRequest{Key: orderKey("o#2")}},
		},
		"codes": {{PutRequest: &types.PutRequest{Item: mk(map[string]string{"token": "b"})}}},
	}})
	if err != nil {
		t.Fatalf("BatchWriteItem: %v", err)
	}
	if out.UnprocessedItems == nil || len(out.UnprocessedItems) != 0 {
		t.Fatalf("UnprocessedItems %v, want {}", out.UnprocessedItems)
	}
	if got := queryMerchant(t, c, "m1"); !reflect.DeepEqual(got, []string{"o#3"}) {
		t.Fatalf("index after batch = %v, want [o#3]", got)
	}
	bg, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
		"orders": {Keys: []map[string]types.AttributeValue{orderKey("o#1"), orderKey("o#2"), orderKey("o#3")}},
		"codes":  {Keys: []map[string]types.AttributeValue{codeKey("b")}},
	}})
	if err != nil {
		t.Fatalf("BatchGetItem: %v", err)
	}
	var pks []string
	for _, it := range bg.Responses["orders"] {
		pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
	}
	if !reflect.DeepEqual(sorted(pks), []string{"o#1", "o#3"}) || len(bg.Responses["codes"]) != 1 {
		t.Fatalf("BatchGetItem: %v", bg.Responses)
	}
	// Duplicate keys reject the whole batch.
	_, err = c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
		"codes": {
			{PutRequest: &types.PutRequest{Item: mk(map[string]string{"token": "c"})}},
			{DeleteRequest: &types.DeleteRequest{Key: codeKey("c")}},
		},
	}})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("duplicate keys: %v", err)
	}
	if getCode(t, c, "c") != nil {
		t.Fatal("rejected batch wrote")
	}
	var many []types.WriteRequest
	for i := range 26 {
		many = append(many, types.WriteRequest{PutRequest: &types.PutRequest{Item: mk(map[string]string{"token": fmt.Sprint("x", i)})}})
	}
	if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"codes": many}}); apiCode(err) != "ValidationException" {
		t.Fatalf("26 requests: %v", err)
	}
}

func TestNestedRemove(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	item := map[string]types.AttributeValue{
		"pk": sv("o#1"), "sk": sv("meta"), "status": sv("NEW"),
		"fields": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"room": sv("3-201"), "name": sv("王"),
			"deep": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"c": sv("c"), "d": sv("d")}}}},
		}},
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{sv("a"), sv("b"), sv("c"), sv("d")}},
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: item}); err != nil {
		t.Fatal(err)
	}
	out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String("orders"), Key: orderKey("o#1"),
		UpdateExpression:         aws.String("SET #f.#n = :n REMOVE #f.room, #l[0], #l[2], #f.deep[0].c, #st"),
		ExpressionAttributeNames: map[string]string{"#f": "fields", "#n": "name", "#st": "status", "#l": "list"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": sv("李")},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		t.Fatalf("UpdateItem: %v", err)
	}
	want := map[string]types.AttributeValue{
		"pk": sv("o#1"), "sk": sv("meta"),
		"fields": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"name": sv("李"),
			"deep": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"d": sv("d")}}}},
		}},
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{sv("b"), sv("d")}},
	}
	if !reflect.DeepEqual(out.Attributes, want) {
		t.Fatalf("ALL_NEW after nested REMOVE:\n got %v\nwant %v", out.Attributes, want)
	}
	if got := getOrder(t, c, "o#1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored after nested REMOVE:\n got %v\nwant %v", got, want)
	}
}

// ReturnValuesOnConditionCheckFailure=ALL_OLD puts the item the condition was
// checked on into ConditionalCheckFailedException.Item.
func TestReturnValuesOnConditionCheckFailure(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "codes", map[string]string{"token": "t1", "state": "used"})
	cond := aws.String("#s = :new")
	names := map[string]string{"#s": "state"}
	vals := map[string]types.AttributeValue{":new": sv("new")}
	allOld := types.ReturnValuesOnConditionCheckFailureAllOld
	newItem, _ := attributevalue.MarshalMap(map[string]string{"token": "t1", "state": "again"})
	cases := map[string]func(key string, rv types.ReturnValuesOnConditionCheckFailure) error{
		"UpdateItem": func(key string, rv types.ReturnValuesOnConditionCheckFailure) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("codes"), Key: codeKey(key),
				UpdateExpression: aws.String("SET #s = :new"), ConditionExpression: cond, ExpressionAttributeNames: names,
				ExpressionAttributeValues: vals, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailure(rv)})
			return err
		},
		"PutItem": func(key string, rv types.ReturnValuesOnConditionCheckFailure) error {
			it := map[string]types.AttributeValue{"token": sv(key), "state": newItem["state"]}
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("codes"), Item: it,
				ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
				ReturnValuesOnConditionCheckFailure: rv})
			return err
		},
		"DeleteItem": func(key string, rv types.ReturnValuesOnConditionCheckFailure) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("codes"), Key: codeKey(key),
				ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
				ReturnValuesOnConditionCheckFailure: rv})
			return err
		},
	}
	for op, call := range cases {
		var ccf *types.ConditionalCheckFailedException
		if err := call("t1", allOld); !errors.As(err, &ccf) {
			t.Fatalf("%s: %v, want ConditionalCheckFailedException", op, err)
		}
		want := map[string]types.AttributeValue{"token": sv("t1"), "state": sv("used")}
		if !reflect.DeepEqual(ccf.Item, want) {
			t.Errorf("%s ALL_OLD: Item %v, want %v", op, ccf.Item, want)
		}
		if err := call("t1", ""); !errors.As(err, &ccf) || ccf.Item != nil {
			t.Errorf("%s without ALL_OLD: %v, Item %v", op, err, ccf.Item)
		}
		if err := call("missing", allOld); !errors.As(err, &ccf) || ccf.Item != nil {
			t.Errorf("%s on a missing item: %v, Item %v", op, err, ccf.Item)
		}
	}
	if got := getCode(t, c, "t1"); got["state"].(*types.AttributeValueMemberS).Value != "used" {
		t.Fatalf("failed conditions changed the item: %v", got)
	}
}

func TestPutAndDeleteReturnValues(t *testing.T) {
	_, c := startServer(t)
	ctx := context.Background()
	put(t, c, "codes", map[string]string{"token": "t1", "state": "one"})
	out, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("codes"),
		Item: map[string]types.AttributeValue{"token": sv("t1"), "state": sv("two")}, ReturnValues: types.ReturnValueAllOld})
	if err != nil || out.Attributes["state"].(*types.AttributeValueMemberS).Value != "one" {
		t.Fatalf("PutItem ALL_OLD: %v %v", err, out)
	}
	del, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("codes"), Key: codeKey("t1"), ReturnValues: types.ReturnValueAllOld})
	if err != nil || del.Attributes["state"].(*types.AttributeValueMemberS).Value != "two" {
		t.Fatalf("DeleteItem ALL_OLD: %v %v", err, del)
	}
	if getCode(t, c, "t1") != nil {
		t.Fatal("not deleted")
	}
}

// minidyn ignores the legacy Expected parameter; the endpoint refuses it
// instead of writing without the condition.
func TestLegacyConditionRefused(t *testing.T) {
	_, c := startServer(t)
	put(t, c, "codes", map[string]string{"token": "t1", "state": "used"})
	_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("codes"),
		Item:     map[string]types.AttributeValue{"token": sv("t1"), "state": sv("new")},
		Expected: map[string]types.ExpectedAttributeValue{"token": {Exists: aws.Bool(false)}}})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("PutItem with Expected: %v", err)
	}
	if got := getCode(t, c, "t1"); got["state"].(*types.AttributeValueMemberS).Value != "used" {
		t.Fatalf("item overwritten: %v", got)
	}
}
