package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

// Payer fields are stored on companies, communities and codes, come back from
// DynamoDB intact, and a collection resolves the most specific level.
func TestCollectionPayerFields(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	owner := domain.PayerFields{{Key: "owner", Label: "业主姓名", Type: domain.FieldText, MaxLen: 10}}
	room := domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText, Required: true, MinLen: 1, MaxLen: 20},
		{Key: "phone", Label: "手机号", Type: domain.FieldPhone}}
	note := domain.PayerFields{{Key: "note", Label: "备注", Type: domain.FieldText}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutCompany(ctx, store.Company{ID: "co", Name: "物业", PayerFields: owner}))
	must(s.PutCommunity(ctx, store.Community{ID: "with-room", CompanyID: "co", Name: "有房号", PayerFields: room}))
	must(s.PutCommunity(ctx, store.Community{ID: "plain", CompanyID: "co", Name: "无设置"}))
	must(s.PutCode(ctx, store.Code{Token: "tok-room", CommunityID: "with-room", Kind: "community", Status: "active"}))
	must(s.PutCode(ctx, store.Code{Token: "tok-note", CommunityID: "with-room", Kind: "community", Status: "active", PayerFields: note}))
	must(s.PutCode(ctx, store.Code{Token: "tok-plain", CommunityID: "plain", Kind: "community", Status: "active"}))

	for tok, want := range map[string]domain.PayerFields{"tok-room": room, "tok-note": note, "tok-plain": owner} {
		col, err := s.LoadCollection(ctx, tok)
		if err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
		if got := col.PayerFields(); !slices.Equal(got, want) {
			t.Errorf("%s: payer fields %+v, want %+v", tok, got, want)
		}
	}
	com, err := s.GetCommunity(ctx, "plain")
	if err != nil || com.PayerFields != nil {
		t.Errorf("a community without fields reads back %+v (%v)", com.PayerFields, err)
	}
}
