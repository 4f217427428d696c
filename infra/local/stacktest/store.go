package stacktest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// NewStore starts an embedded DynamoDB with the template's tables (exactly as
// the local stack creates them, without the rest of the stack) and returns a
// store on it.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	tmpl, err := template.Load(filepath.Join(Root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dynamo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.CreateTables(context.Background(), stack.DynamoTables(tmpl)); err != nil {
		t.Fatal(err)
	}
	return &store.Store{DB: dynamo.Client(srv.URL()), Directory: "DirectoryTable", Orders: "OrdersTable", Access: "AccessTable", Bills: "BillsTable"}
}

// ScanOrders returns every item of the orders table.
func ScanOrders(t testing.TB, s *store.Store) []order.Order {
	t.Helper()
	out, err := s.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.Orders)})
	if err != nil {
		t.Fatal(err)
	}
	orders := make([]order.Order, 0, len(out.Items))
	for _, it := range out.Items {
		if store.IsRefundItem(it) {
			continue
		}
		o, err := store.DecodeOrder(it)
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	return orders
}

// SeedOrder stores o (ids, code, merchant, app, amount, fields set by the
// caller) as a new order through the order repository, created now, and pays
// it at paidAt (by transaction "TXN"+id) unless paidAt is zero.
func SeedOrder(t testing.TB, s *store.Store, o order.Order, now, paidAt time.Time) order.Order {
	t.Helper()
	ctx := context.Background()
	if o.RequestHash == "" {
		o.RequestHash = "h"
	}
	o, err := order.New(o, now, 10*time.Minute, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r := s.OrderRepo()
	if _, err := r.Create(ctx, o); err != nil {
		t.Fatalf("seed order %s: %v", o.ID, err)
	}
	if paidAt.IsZero() {
		return o
	}
	paid, err := r.Update(ctx, o.ID, func(x *order.Order) error {
		return x.Pay(order.Payment{ProviderTxnID: "TXN" + o.ID, AmountFen: o.AmountFen, PaidAt: paidAt, MerchantID: o.MerchantID, AppID: o.AppID, PayerID: "2088buyer"})
	})
	if err != nil {
		t.Fatalf("pay seeded order %s: %v", o.ID, err)
	}
	return paid
}
