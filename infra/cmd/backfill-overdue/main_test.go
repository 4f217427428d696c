package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/store"
)

// A bill written before the index (no od_pk) is found by the reminders'
// Query only after the backfill; a second run changes nothing.
func TestBackfillCommand(t *testing.T) {
	ctx := context.Background()
	st := stacktest.NewStore(t)
	co := fmt.Sprintf("co-bf-%d", time.Now().UnixNano())
	if err := st.PutCompany(ctx, store.Company{ID: co, Name: "回填物业"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutCommunity(ctx, store.Community{ID: co + "-m", CompanyID: co, Name: "回填小区"}); err != nil {
		t.Fatal(err)
	}
	b, err := bill.New(bill.Bill{ID: co + "-b", CompanyID: co, CommunityID: co + "-m", HouseID: "H1", Building: "1", Room: "101", FeeItem: "物业费",
		Period: "2026-10", AmountFen: 100, DueDate: "2026-10-31"}, "import:test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.BillRepo().Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.Bills),
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "BILL#" + b.ID}, "sk": &types.AttributeValueMemberS{Value: "BILL"}},
		UpdateExpression: aws.String("REMOVE od_pk, od_sk")}); err != nil {
		t.Fatal(err)
	}
	args := []string{"-bills-table", st.Bills, "-directory-table", st.Directory, "-company", co}
	var out bytes.Buffer
	if err := run(ctx, args, &out, func() (*dynamodb.Client, error) { return st.DB, nil }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "backfilled 1 bills") {
		t.Fatalf("output %q", out.String())
	}
	if got, _ := st.ReminderRepo().Overdue(ctx, co, co+"-m", "2026-12-07"); len(got) != 1 {
		t.Fatalf("overdue after the backfill: %d", len(got))
	}
	out.Reset()
	if err := run(ctx, args, &out, func() (*dynamodb.Client, error) { return st.DB, nil }); err != nil || !strings.Contains(out.String(), "backfilled 0 bills") {
		t.Fatalf("second run: %v %q", err, out.String())
	}
	if err := run(ctx, nil, &out, nil); err == nil {
		t.Fatal("no tables accepted")
	}
}
