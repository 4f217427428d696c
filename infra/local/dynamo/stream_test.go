package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time  { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) Set(t time.Time) { f.mu.Lock(); f.t = t; f.mu.Unlock() }

var clockStart = time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)

func readAll(t *testing.T, s *Server, table string) []StreamRecord {
	t.Helper()
	recs, err := s.ReadStream(table, "", 0)
	if err != nil {
		t.Fatalf("ReadStream %s: %v", table, err)
	}
	return recs
}

// attrS reads a string attribute of an image in DynamoDB JSON.
func attrS(img map[string]json.RawMessage, name string) string {
	var v struct{ S string }
	_ = json.Unmarshal(img[name], &v)
	return v.S
}

func eventNames(recs []StreamRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.EventName+" "+attrS(r.Keys, "pk")+attrS(r.Keys, "token"))
	}
	return out
}

// Every kind of write appends exactly one record per changed item, with the
// images of the view type; writes that change nothing append none.
func TestStreamRecordsForEveryWrite(t *testing.T) {
	clock := &fakeClock{t: clockStart}
	s, c := startServer(t, WithClock(clock.Now))
	ctx := context.Background()

	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})                    // INSERT
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m1", Created: 1, Status: "NEW"})                    // identical: none
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: orderKey("o#1"), // MODIFY
		UpdateExpression: aws.String("SET #st = :paid"), ConditionExpression: aws.String("#st = :new"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":paid": sv("PAID"), ":new": sv("NEW")}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: orderKey("o#1"), // condition fails: none
		UpdateExpression: aws.String("SET #st = :paid"), ConditionExpression: aws.String("#st = :new"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":paid": sv("PAID"), ":new": sv("NEW")}})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("want a failed condition: %v", err)
	}
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: orderKey("o#1"), // same value: none
		UpdateExpression: aws.String("SET amount_fen = :z"), ExpressionAttributeValues: map[string]types.AttributeValue{":z": nv("0.0")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("orders"), Key: orderKey("nothing")}); err != nil { // none
		t.Fatal(err)
	}
	item, _ := attributevalue.MarshalMap(order{PK: "o#2", SK: "meta", Merchant: "m1", Created: 2})
	if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{ // INSERT o#2, REMOVE o#1
		"orders": {{PutRequest: &types.PutRequest{Item: item}}, {DeleteRequest: &types.DeleteRequest{Key: orderKey("o#1")}}},
		"codes":  {{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"token": sv("c1")}}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{ // MODIFY o#2, INSERT o#3
		{Update: &types.Update{TableName: aws.String("orders"), Key: orderKey("o#2"), UpdateExpression: aws.String("REMOVE merchant")}},
		{Put: &types.Put{TableName: aws.String("orders"), Item: map[string]types.AttributeValue{"pk": sv("o#3"), "sk": sv("meta")}}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("codes"), Key: codeKey("c1"), ConditionExpression: aws.String("attribute_exists(#t)"),
			ExpressionAttributeNames: map[string]string{"#t": "token"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{ // cancelled: none
		{Delete: &types.Delete{TableName: aws.String("orders"), Key: orderKey("o#3")}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("codes"), Key: codeKey("c1"), ConditionExpression: aws.String("attribute_not_exists(#t)"),
			ExpressionAttributeNames: map[string]string{"#t": "token"}}},
	}}); err == nil {
		t.Fatal("transaction with a failing check succeeded")
	}
	if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("orders"), Key: orderKey("o#3")}); err != nil { // REMOVE
		t.Fatal(err)
	}

	recs := readAll(t, s, "orders")
	want := []string{"INSERT o#1", "MODIFY o#1", "INSERT o#2", "REMOVE o#1", "MODIFY o#2", "INSERT o#3", "REMOVE o#3"}
	if got := eventNames(recs); !reflect.DeepEqual(got, want) {
		t.Fatalf("records %v\nwant    %v", got, want)
	}
	seqRe := regexp.MustCompile(`^[0-9]{21,}$`)
	ids := map[string]bool{}
	for i, r := range recs {
		if !seqRe.MatchString(r.SequenceNumber) {
			t.Errorf("sequence number %q", r.SequenceNumber)
		}
		if i > 0 && !SeqLess(recs[i-1].SequenceNumber, r.SequenceNumber) {
			t.Errorf("sequence numbers not increasing: %s then %s", recs[i-1].SequenceNumber, r.SequenceNumber)
		}
		if r.EventID == "" || ids[r.EventID] {
			t.Errorf("event id %q empty or repeated", r.EventID)
		}
		ids[r.EventID] = true
		if !r.ApproximateCreationDateTime.Equal(clockStart) || r.SizeBytes <= 0 || r.StreamViewType != "NEW_AND_OLD_IMAGES" || r.UserIdentity != nil {
			t.Errorf("record %d: %+v", i, r)
		}
		if len(r.Keys) != 2 || attrS(r.Keys, "sk") != "meta" {
			t.Errorf("record %d keys %v", i, r.Keys)
		}
	}
	// Images.
	ins, mod, rem := recs[0], recs[1], recs[3]
	if ins.OldImage != nil || attrS(ins.NewImage, "status") != "NEW" {
		t.Errorf("INSERT images: old %v new %v", ins.OldImage, ins.NewImage)
	}
	if attrS(mod.OldImage, "status") != "NEW" || attrS(mod.NewImage, "status") != "PAID" || attrS(mod.NewImage, "merchant") != "m1" {
		t.Errorf("MODIFY images: old %v new %v", mod.OldImage, mod.NewImage)
	}
	if rem.NewImage != nil || attrS(rem.OldImage, "status") != "PAID" {
		t.Errorf("REMOVE images: old %v new %v", rem.OldImage, rem.NewImage)
	}
	if _, ok := recs[4].NewImage["merchant"]; ok || attrS(recs[4].OldImage, "merchant") != "m1" {
		t.Errorf("MODIFY by transaction: %+v", recs[4])
	}
	// codes has no stream; the middleware's shadow tables have none either.
	if s.StreamArn("codes") != "" || s.StreamArn(shadowPrefix+"orders") != "" {
		t.Error("stream on a table without StreamSpecification")
	}
	if _, err := s.ReadStream("codes", "", 0); err == nil {
		t.Error("ReadStream of a table without stream succeeded")
	}
}

func TestStreamViewTypesAndDescription(t *testing.T) {
	clock := &fakeClock{t: clockStart}
	s, c := startServer(t, WithClock(clock.Now))
	ctx := context.Background()
	views := []string{"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"}
	for _, v := range views {
		if err := s.CreateTables(ctx, []Table{{Name: "t-" + v, Attributes: map[string]string{"id": "S"}, HashKey: "id", StreamViewType: v}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTables(ctx, []Table{{Name: "bad", Attributes: map[string]string{"id": "S"}, HashKey: "id", StreamViewType: "ALL"}}); err == nil {
		t.Fatal("stream view type ALL accepted")
	}
	arnRe := regexp.MustCompile(`^arn:aws:dynamodb:ap-southeast-1:000000000000:table/t-[A-Z_]+/stream/2030-05-01T08:00:00\.000$`)
	for _, v := range views {
		table := "t-" + v
		d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		spec := d.Table.StreamSpecification
		if spec == nil || !aws.ToBool(spec.StreamEnabled) || string(spec.StreamViewType) != v {
			t.Errorf("%s: StreamSpecification %+v", table, spec)
		}
		if arn := aws.ToString(d.Table.LatestStreamArn); !arnRe.MatchString(arn) || arn != s.StreamArn(table) {
			t.Errorf("%s: LatestStreamArn %q (StreamArn %q)", table, arn, s.StreamArn(table))
		}
		for _, val := range []string{"a", "b"} {
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
				Item: map[string]types.AttributeValue{"id": sv("x"), "v": sv(val)}}); err != nil {
				t.Fatal(err)
			}
		}
		recs := readAll(t, s, table)
		if len(recs) != 2 || recs[1].EventName != "MODIFY" || recs[1].StreamViewType != v {
			t.Fatalf("%s: %+v", table, recs)
		}
		m := recs[1]
		hasNew, hasOld := m.NewImage != nil, m.OldImage != nil
		wantNew := v == "NEW_IMAGE" || v == "NEW_AND_OLD_IMAGES"
		wantOld := v == "OLD_IMAGE" || v == "NEW_AND_OLD_IMAGES"
		if hasNew != wantNew || hasOld != wantOld || attrS(m.Keys, "id") != "x" || len(m.Keys) != 1 {
			t.Errorf("%s MODIFY: keys %v new %v old %v", table, m.Keys, m.NewImage, m.OldImage)
		}
		if wantNew && attrS(m.NewImage, "v") != "b" || wantOld && attrS(m.OldImage, "v") != "a" {
			t.Errorf("%s images: new %v old %v", table, m.NewImage, m.OldImage)
		}
	}
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("codes")})
	if err != nil || d.Table.StreamSpecification != nil || d.Table.LatestStreamArn != nil {
		t.Fatalf("codes has no stream: %v %+v", err, d.Table)
	}
}

func TestReadStreamPagingChangedAndRetention(t *testing.T) {
	clock := &fakeClock{t: clockStart}
	s, c := startServer(t, WithClock(clock.Now))
	changed := s.StreamChanged("orders")
	select {
	case <-changed:
		t.Fatal("StreamChanged fired before any write")
	default:
	}
	for i := range 5 {
		put(t, c, "orders", order{PK: fmt.Sprint("o#", i), SK: "meta", Merchant: "m", Created: int64(i)})
	}
	select {
	case <-changed:
	default:
		t.Fatal("StreamChanged not closed by a write")
	}
	next := s.StreamChanged("orders")
	select {
	case <-next:
		t.Fatal("new StreamChanged channel already closed")
	default:
	}
	page1, err := s.ReadStream("orders", "", 2)
	if err != nil || len(page1) != 2 {
		t.Fatalf("page 1: %v %d", err, len(page1))
	}
	page2, _ := s.ReadStream("orders", page1[1].SequenceNumber, 10)
	if len(page2) != 3 || attrS(page2[0].Keys, "pk") != "o#2" {
		t.Fatalf("page 2: %v", eventNames(page2))
	}
	if rest, _ := s.ReadStream("orders", page2[2].SequenceNumber, 10); len(rest) != 0 {
		t.Fatalf("after the last record: %v", eventNames(rest))
	}
	// Records older than 24 hours are gone.
	clock.Set(clockStart.Add(StreamRetention - time.Second))
	put(t, c, "orders", order{PK: "o#late", SK: "meta", Merchant: "m"})
	if n := len(readAll(t, s, "orders")); n != 6 {
		t.Fatalf("%d records within retention, want 6", n)
	}
	clock.Set(clockStart.Add(StreamRetention + time.Second))
	if recs := readAll(t, s, "orders"); len(recs) != 1 || attrS(recs[0].Keys, "pk") != "o#late" {
		t.Fatalf("after retention: %v", eventNames(recs))
	}
}

func TestSeqLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"000000000000000000001", "000000000000000000002", true},
		{"000000000000000000002", "000000000000000000001", false},
		{"000000000000000000009", "000000000000000000010", true},
		{"999999999999999999999", "1000000000000000000000", true},
		{"000000000000000000005", "000000000000000000005", false},
	} {
		if got := SeqLess(c.a, c.b); got != c.want {
			t.Errorf("SeqLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// Expired items are deleted by the server; the deletion is a stream record
// by the DynamoDB service.
func TestTTLExpiry(t *testing.T) {
	clock := &fakeClock{t: clockStart}
	s, c := startServer(t, WithClock(clock.Now))
	now := clockStart.Unix()
	exp := func(pk string, expires types.AttributeValue) {
		it := map[string]types.AttributeValue{"pk": sv(pk), "sk": sv("meta"), "merchant": sv("m"), "created": nv("1")}
		if expires != nil {
			it["expires"] = expires
		}
		if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	exp("soon", nv(strconv.FormatInt(now+60, 10)))
	exp("later", nv(strconv.FormatInt(now+3600, 10)))
	exp("ancient", nv(strconv.FormatInt(now-6*365*86400, 10))) // > 5 years ago: DynamoDB ignores it
	exp("text", sv(strconv.FormatInt(now-60, 10)))             // not a Number: ignored
	exp("none", nil)
	put(t, c, "codes", map[string]any{"token": "k", "expires": now - 60}) // codes has no TTL
	before := len(readAll(t, s, "orders"))

	n, err := s.ExpireNow(clockStart.Add(2 * time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("ExpireNow: %d %v, want 1", n, err)
	}
	if getOrder(t, c, "soon") != nil {
		t.Fatal("expired item still there")
	}
	for _, pk := range []string{"later", "ancient", "text", "none"} {
		if getOrder(t, c, pk) == nil {
			t.Fatalf("%s deleted", pk)
		}
	}
	if getCode(t, c, "k") == nil {
		t.Fatal("item of a table without TTL deleted")
	}
	if got := queryMerchant(t, c, "m"); len(got) != 4 {
		t.Fatalf("index after expiry: %v", got)
	}
	recs := readAll(t, s, "orders")
	if len(recs) != before+1 {
		t.Fatalf("%d records added by expiry, want 1", len(recs)-before)
	}
	r := recs[len(recs)-1]
	if r.EventName != "REMOVE" || attrS(r.Keys, "pk") != "soon" || r.NewImage != nil || attrS(r.OldImage, "pk") != "soon" {
		t.Fatalf("expiry record %+v", r)
	}
	if r.UserIdentity == nil || *r.UserIdentity != (StreamIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}) {
		t.Fatalf("expiry record identity %+v", r.UserIdentity)
	}
	// Nothing more to do at the same time; later, the next one goes.
	if n, _ := s.ExpireNow(clockStart.Add(2 * time.Minute)); n != 0 {
		t.Fatalf("second ExpireNow deleted %d", n)
	}
	if n, _ := s.ExpireNow(clockStart.Add(2 * time.Hour)); n != 1 || getOrder(t, c, "later") != nil {
		t.Fatalf("later item: %d deleted", n)
	}
}

// The server expires items by itself, on its clock.
func TestTTLBackgroundExpiry(t *testing.T) {
	s, c := startServer(t)
	put(t, c, "orders", map[string]any{"pk": "gone", "sk": "meta", "expires": time.Now().Unix() - 1})
	put(t, c, "orders", map[string]any{"pk": "kept", "sk": "meta", "expires": time.Now().Unix() + 3600})
	deadline := time.NewTimer(4 * ExpiryInterval)
	defer deadline.Stop()
	for {
		changed := s.StreamChanged("orders")
		if getOrder(t, c, "gone") == nil {
			break
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatal("expired item not deleted by the server")
		}
	}
	if getOrder(t, c, "kept") == nil {
		t.Fatal("unexpired item deleted")
	}
}

// Stream records survive a snapshot and restore; loading the items appends
// none, and later writes continue the sequence.
func TestSnapshotRestoreKeepsStream(t *testing.T) {
	clock := &fakeClock{t: clockStart}
	s, c := startServer(t, WithClock(clock.Now))
	ctx := context.Background()
	put(t, c, "orders", order{PK: "o#1", SK: "meta", Merchant: "m", Created: 1})
	put(t, c, "orders", order{PK: "o#2", SK: "meta", Merchant: "m", Created: 2})
	if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("orders"), Key: orderKey("o#1")}); err != nil {
		t.Fatal(err)
	}
	want := readAll(t, s, "orders")
	arn := s.StreamArn("orders")
	path := filepath.Join(t.TempDir(), "dynamo.json")
	if err := s.Snapshot(ctx, path); err != nil {
		t.Fatal(err)
	}

	clock2 := &fakeClock{t: clockStart.Add(time.Hour)}
	s2, c2 := startServer(t, WithClock(clock2.Now))
	if err := s2.Restore(ctx, path); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, s2, "orders")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored records differ:\n got %+v\nwant %+v", got, want)
	}
	if s2.StreamArn("orders") != arn {
		t.Fatalf("stream ARN %q after restore, want %q", s2.StreamArn("orders"), arn)
	}
	if getOrder(t, c2, "o#2") == nil || getOrder(t, c2, "o#1") != nil {
		t.Fatal("items not restored")
	}
	if got := queryMerchant(t, c2, "m"); !reflect.DeepEqual(got, []string{"o#2"}) {
		t.Fatalf("index after restore: %v", got)
	}
	put(t, c2, "orders", order{PK: "o#3", SK: "meta", Merchant: "m", Created: 3})
	after, _ := s2.ReadStream("orders", want[len(want)-1].SequenceNumber, 0)
	if len(after) != 1 || attrS(after[0].Keys, "pk") != "o#3" || !SeqLess(want[len(want)-1].SequenceNumber, after[0].SequenceNumber) {
		t.Fatalf("write after restore: %v", eventNames(after))
	}
	// A stream of another view type is a new stream: old records are not loaded.
	s3, _ := startServer(t)
	s3.loadStreams(map[string]streamState{"orders": {ViewType: "KEYS_ONLY", Label: "x", Last: "000000000000000000009",
		Records: []StreamRecord{{SequenceNumber: "000000000000000000009"}}}})
	if recs := readAll(t, s3, "orders"); len(recs) != 0 {
		t.Fatalf("records of another view type loaded: %v", recs)
	}
}

// Concurrent writers from many clients: every change is recorded once, in
// sequence order.
func TestStreamConcurrentWriters(t *testing.T) {
	s, _ := startServer(t)
	ctx := context.Background()
	// Own transport: its spare connections are closed before the server
	// shuts down (which otherwise waits 5 s for connections never used).
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := dynamodb.New(dynamodb.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: &http.Client{Transport: tr}})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"), Key: orderKey(fmt.Sprint("o#", i)),
					UpdateExpression:          aws.String("ADD n :one SET merchant = :m, created = :c"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":one": nv("1"), ":m": sv(fmt.Sprint("m", w)), ":c": nv(strconv.Itoa(w))}})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs := readAll(t, s, "orders")
	if len(recs) != 80 {
		t.Fatalf("%d records for 80 changing updates", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if !SeqLess(recs[i-1].SequenceNumber, recs[i].SequenceNumber) {
			t.Fatal("records out of order")
		}
	}
	for i := range 10 {
		var it struct {
			N int `dynamodbav:"n"`
		}
		_ = attributevalue.UnmarshalMap(getOrder(t, c, fmt.Sprint("o#", i)), &it)
		if it.N != 8 {
			t.Fatalf("o#%d counter %d, want 8", i, it.N)
		}
	}
}
