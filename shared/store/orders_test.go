package store_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/store/ordertest"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// The order repository contract, against the embedded DynamoDB with the
// template's tables (or real DynamoDB: see realStore).
func TestOrdersContract(t *testing.T) {
	ordertest.Run(t, func(t *testing.T) payments.Orders { return newStore(t).OrderRepo() })
}

func newOrder(t *testing.T, id, community string, amount int64, created time.Time) order.Order {
	t.Helper()
	o, err := order.New(order.Order{
		ID: id, CommunityID: community, CompanyID: "co-1", CodeToken: "tok-" + community,
		Channel: domain.Alipay, IfaceID: "ali-1", MerchantID: "2088000000000001", AppID: "2021000000000001",
		AmountFen: amount, Description: "test", RequestHash: "hash-" + id,
	}, created, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mustCreate(t *testing.T, r *store.Orders, o order.Order) order.Order {
	t.Helper()
	got, err := r.Create(context.Background(), o)
	if err != nil {
		t.Fatalf("Create(%s): %v", o.ID, err)
	}
	return got
}

func payment(amount int64, at time.Time, txn string) order.Payment {
	return order.Payment{ProviderTxnID: txn, AmountFen: amount, PaidAt: at, MerchantID: "2088000000000001", AppID: "2021000000000001", PayerID: "buyer-" + txn}
}

func rawItem(t *testing.T, s *store.Store, id string) map[string]types.AttributeValue {
	t.Helper()
	res, err := s.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.Orders),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item
}

func attr(item map[string]types.AttributeValue, name string) string {
	switch v := item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

// The index keys follow the order's state: unpaid orders in a work shard at
// their next check; paid ones out of it, in records and in the settle index
// under channel#merchant#business-day#shard.
func TestIndexKeysFollowState(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	o := mustCreate(t, r, newOrder(t, "EPIDX1", "com-a", 500, t0))
	it := rawItem(t, s, o.ID)
	if !strings.HasPrefix(attr(it, "work_pk"), "W#") || attr(it, "work_at") != "2025-03-01T08:02:00.000Z" || attr(it, "rec_pk") != "" || attr(it, "settle_pk") != "" || attr(it, "version") != "1" {
		t.Fatalf("created item = %v", it)
	}
	paidAt := time.Date(2025, 3, 1, 16, 30, 0, 0, time.UTC) // 00:30 on 3月2日 in Shanghai
	if _, err := r.Update(ctx, o.ID, func(o *order.Order) error { return o.Pay(payment(500, paidAt, "T1")) }); err != nil {
		t.Fatal(err)
	}
	it = rawItem(t, s, o.ID)
	if attr(it, "work_pk") != "" || attr(it, "rec_pk") != "com-a" || attr(it, "business_day") != "2025-03-02" ||
		!strings.HasPrefix(attr(it, "settle_pk"), "alipay#2088000000000001#2025-03-02#") || attr(it, "version") != "2" {
		t.Fatalf("paid item = %v", it)
	}
	// The settle partition it names is readable page by page without a Scan.
	var found bool
	for i := range store.SettleShards {
		page, err := r.Settled(ctx, store.SettlePartition(domain.Alipay, "2088000000000001", "2025-03-02", i), nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Orders {
			found = found || p.ID == o.ID
		}
	}
	if !found {
		t.Fatal("paid order not in its settle partitions")
	}
	// The records index holds what records show, not the prepay (INCLUDE
	// projection; the local DynamoDB answers with the projection, as DynamoDB does).
	res, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.Orders), IndexName: aws.String("records"),
		KeyConditionExpression:    aws.String("rec_pk = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: "com-a"}}})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("records query: %v %d", err, len(res.Items))
	}
	if it := res.Items[0]; attr(it, "amount_fen") != "500" || attr(it, "paid_at") == "" || it["request_hash"] != nil || it["next_check_at"] != nil {
		t.Fatalf("records entry %v: want the projected attributes only", it)
	}
}

// A stale write (the version moved since it was read) is refused: the
// adapter's condition, not the caller, keeps the aggregate's invariants.
func TestStaleWriteRefused(t *testing.T) {
	s := newStore(t)
	r := s.OrderRepo()
	ctx := context.Background()
	o := mustCreate(t, r, newOrder(t, "EPSTALE", "com-a", 500, t0))
	calls := 0
	got, err := r.Update(ctx, o.ID, func(cur *order.Order) error {
		calls++
		if calls == 1 {
			// Someone else closes it between our read and our write.
			if _, err := r.Update(ctx, o.ID, func(x *order.Order) error { return x.Close(t0.Add(time.Hour)) }); err != nil {
				t.Fatal(err)
			}
		}
		return cur.Pay(payment(500, t0, "T1")) // a late payment wins over our close
	})
	if err != nil || calls != 2 || got.Status != order.Paid || got.Version != 3 {
		t.Fatalf("update after a race = %+v %v (calls %d), want PAID v3 on the second attempt", got, err, calls)
	}
}

func seedRecords(t *testing.T, s *store.Store, community string, n int, start time.Time) []string {
	t.Helper()
	r := s.OrderRepo()
	ctx := context.Background()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("EP%s%02d", strings.ToUpper(strings.ReplaceAll(community, "-", "")), i)
		o := mustCreate(t, r, newOrder(t, id, community, int64(100+i), start))
		if _, err := r.Update(ctx, o.ID, func(o *order.Order) error {
			return o.Pay(payment(int64(100+i), start.Add(time.Duration(i)*time.Minute), "T"+id))
		}); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{id}, ids...)
	}
	return ids
}

func TestListRecordsNewestFirstPaged(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	want := seedRecords(t, s, "com-a", 7, t0)
	seedRecords(t, s, "com-b", 3, t0.Add(30*time.Second)) // interleaved in time, other community
	// An unpaid and a closed order in com-a are not records.
	mustCreate(t, s.OrderRepo(), newOrder(t, "EPUNPAID", "com-a", 1, t0.Add(time.Hour)))
	mustCreate(t, s.OrderRepo(), newOrder(t, "EPCLOSED", "com-a", 1, t0.Add(time.Hour)))
	if _, err := s.OrderRepo().Update(ctx, "EPCLOSED", func(o *order.Order) error { return o.Close(t0.Add(2 * time.Hour)) }); err != nil {
		t.Fatal(err)
	}

	all, err := s.OrderRepo().Records(ctx, "com-a", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := orderIDs(all.Orders); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListRecords = %v, want %v", got, want)
	}
	if all.Next != "" {
		t.Fatalf("single page has a cursor %q", all.Next)
	}
	for i := 1; i < len(all.Orders); i++ {
		if !all.Orders[i-1].PaidAt.After(all.Orders[i].PaidAt) {
			t.Fatalf("records not newest first at %d", i)
		}
	}

	var seen []string
	cursor := ""
	pages := 0
	for {
		page, err := s.OrderRepo().Records(ctx, "com-a", cursor, 3)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(page.Orders) > 3 {
			t.Fatalf("page of %d > limit", len(page.Orders))
		}
		seen = append(seen, orderIDs(page.Orders)...)
		if page.Next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = page.Next
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("paged records = %v, want %v", seen, want)
	}
	if pages != 3 {
		t.Fatalf("7 records at 3 a page took %d pages, want 3", pages)
	}

	// Unknown community: empty.
	empty, err := s.OrderRepo().Records(ctx, "com-none", "", 10)
	if err != nil || len(empty.Orders) != 0 || empty.Next != "" {
		t.Fatalf("unknown community: %+v %v", empty, err)
	}
}

func orderIDs(os []order.Order) []string {
	var ids []string
	for _, o := range os {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestListRecordsBadCursor(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for name, c := range map[string]string{
		"garbage":         "!!!not-a-cursor!!!",
		"not base64 json": base64.RawURLEncoding.EncodeToString([]byte("hello")),
		"std base64":      base64.StdEncoding.EncodeToString([]byte(`{"s":"x","i":"y"}`)) + "==",
		"json array":      enc([]string{"a", "b"}),
		"empty object":    enc(map[string]string{}),
		"missing id":      enc(map[string]string{"s": "2025-03-01T08:00:00.000Z#EPX"}),
		"missing sk":      enc(map[string]string{"i": "EPX"}),
	} {
		if _, err := s.OrderRepo().Records(ctx, "com-a", c, 2); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s cursor: err = %v, want ErrBadCursor", name, err)
		}
	}

}

// TestListRecordsForeignCursor: a cursor ListRecords did not produce for this
// community (another community's, or a hand-made one) is ErrBadCursor, as the
// ErrBadCursor doc promises, instead of silently starting a page elsewhere.
func TestListRecordsForeignCursor(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	seedRecords(t, s, "com-a", 4, t0)
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for name, c := range map[string]string{
		// Exactly what ListRecords emits for a page of com-b ending at EPCOMB01.
		"other community's cursor": enc(map[string]string{"s": "2025-03-01T08:01:00.000Z#EPCOMB01", "i": "EPCOMB01"}),
		"forged cursor":            enc(map[string]string{"s": "9999-12-31T00:00:00.000Z#EPFORGED", "i": "EPFORGED"}),
		"sk and id disagree":       enc(map[string]string{"s": "2025-03-01T08:01:00.000Z#EPCOMA01", "i": "EPCOMA03"}),
	} {
		page, err := s.OrderRepo().Records(ctx, "com-a", c, 2)
		if !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: err = %v (page %v), want ErrBadCursor", name, err, orderIDs(page.Orders))
		}
	}
}
