package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/store"
)

func fenfuStore(t *testing.T, sealer store.FieldSealer) *store.Fenfu {
	st := newStore(t)
	return &store.Fenfu{DB: st.DB, Table: "FenfuTable", Sealer: sealer}
}

// 20 concurrent 分付 payments of 3,000 yuan by one payer: exactly 16 pass the
// 50,000 yuan limit (48,000), the others are refused; the total is their sum.
func TestFenfuDailyLimitUnderConcurrency(t *testing.T) {
	f := fenfuStore(t, nil)
	ctx := context.Background()
	l := fenfu.DefaultLimits()
	day := calendar.Day("2026-12-06")
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, refused := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := f.Reserve(ctx, "op-1", fmt.Sprintf("o%02d", i), day, 300000, l.DailyFen)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed++
			case errors.Is(err, store.ErrFenfuDailyLimit):
				refused++
			default:
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if passed != 16 || refused != 4 {
		t.Fatalf("passed %d refused %d, want 16 and 4", passed, refused)
	}
	spent, err := f.Spent(ctx, "op-1", day)
	if err != nil || spent != 16*300000 {
		t.Fatalf("spent %d %v", spent, err)
	}
	// the same order reserved again changes nothing
	var some string
	for i := 0; i < 20; i++ {
		if err := f.Release(ctx, "op-1", "none", day); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Reserve(ctx, "op-1", fmt.Sprintf("o%02d", i), day, 300000, l.DailyFen); err == nil {
			some = fmt.Sprintf("o%02d", i)
			break
		}
	}
	if spent2, _ := f.Spent(ctx, "op-1", day); some == "" || spent2 != spent {
		t.Fatalf("re-reserving %q changed the total to %d", some, spent2)
	}
	// a failed payment gives its amount back, once; then a 2,000 yuan payment fits
	if _, err := f.Reserve(ctx, "op-1", "late", day, 300000, l.DailyFen); !errors.Is(err, store.ErrFenfuDailyLimit) {
		t.Fatalf("over the limit: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := f.Release(ctx, "op-1", some, day); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := f.Spent(ctx, "op-1", day); s != 15*300000 {
		t.Fatalf("after release %d", s)
	}
	if _, err := f.Reserve(ctx, "op-1", "late", day, 500000, l.DailyFen); err != nil {
		t.Fatalf("exactly to the limit: %v", err)
	}
	// another payer, another day: their own totals
	if _, err := f.Reserve(ctx, "op-2", "x", day, l.DailyFen, l.DailyFen); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Reserve(ctx, "op-1", "next", day.Next(), l.DailyFen, l.DailyFen); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Reserve(ctx, "op-1", "big", day.Next().Next(), l.DailyFen+1, l.DailyFen); !errors.Is(err, store.ErrFenfuDailyLimit) {
		t.Fatalf("one payment over the limit: %v", err)
	}
}

type rot13 struct{}

func (rot13) Seal(p []byte, aad string) (string, error) {
	return "sealed:" + aad + ":" + string(p), nil
}
func (rot13) Open(s string, aad string) ([]byte, error) {
	v, ok := strings.CutPrefix(s, "sealed:"+aad+":")
	if !ok {
		return nil, errors.New("bad aad")
	}
	return []byte(v), nil
}

func TestFenfuRiskRecords(t *testing.T) {
	f := fenfuStore(t, rot13{})
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	recs := []fenfu.RiskRecord{
		{ID: "o1#night_large", CompanyID: "c1", OrderID: "o1", PayerOpenID: "op", Rule: fenfu.RuleNightLarge, Decision: fenfu.Allow, At: at},
		{ID: "o2#three_in_a_row", CompanyID: "c1", OrderID: "o2", PayerOpenID: "op", Rule: fenfu.RuleInARow, Decision: fenfu.Warn, Detail: "连续", At: at.Add(time.Minute)},
		{ID: "o2#suspicious", CompanyID: "c1", OrderID: "o2", PayerOpenID: "op", Rule: fenfu.RuleSuspicious, Decision: fenfu.Hold, At: at.Add(time.Minute)},
		{ID: "o3#night_large", CompanyID: "c2", OrderID: "o3", PayerOpenID: "op", Rule: fenfu.RuleNightLarge, Decision: fenfu.Refuse, At: at},
	}
	for _, r := range append(recs, recs[0]) {
		if err := f.PutRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	all, next, err := f.Records(ctx, "c1", false, "", 10)
	if err != nil || next != "" || len(all) != 3 || all[2].ID != "o1#night_large" || all[0].PayerOpenID != "op" {
		t.Fatalf("records %+v %q %v", all, next, err)
	}
	warn, _, err := f.Records(ctx, "c1", true, "", 10)
	if err != nil || len(warn) != 2 || warn[0].Decision == fenfu.Allow || warn[1].Decision == fenfu.Allow {
		t.Fatalf("warnings %+v %v", warn, err)
	}
	page, next, _ := f.Records(ctx, "c1", false, "", 2)
	rest, _, _ := f.Records(ctx, "c1", false, next, 2)
	if len(page) != 2 || next == "" || len(rest) != 1 || rest[0].ID != "o1#night_large" {
		t.Fatalf("paging %+v %q %+v", page, next, rest)
	}
	// the payer is sealed at rest, and the item expires after 3 years
	res, err := f.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(f.Table), KeyConditionExpression: aws.String("pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "FRISK#c2"}}})
	if err != nil || len(res.Items) != 1 {
		t.Fatal(err)
	}
	if p := res.Items[0]["payer_openid"].(*types.AttributeValueMemberS).Value; p != "sealed:fenfu-risk:o3#night_large:op" {
		t.Fatalf("stored payer %q", p)
	}
	// three calendar years to the second (fenfu.ExpiresAt)
	if e := res.Items[0]["expires_at"].(*types.AttributeValueMemberN).Value; e != fmt.Sprint(at.UTC().AddDate(3, 0, 0).Unix()) {
		t.Fatalf("expires_at %s, want %d", e, at.UTC().AddDate(3, 0, 0).Unix())
	}
}
