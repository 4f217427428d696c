package stacktest

import (
	"context"
	"path/filepath"
	"testing"

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
	return &store.Store{DB: dynamo.Client(srv.URL()), Directory: "DirectoryTable", Orders: "OrdersTable"}
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
		o, err := store.DecodeOrder(it)
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	return orders
}
