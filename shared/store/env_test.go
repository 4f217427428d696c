package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/store"
)

// newStore starts an embedded DynamoDB with the template's tables (exactly as
// the local stack creates them) and returns a store on it.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	root := repoRoot(t)
	tmpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dynamo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	var tables []dynamo.Table
	for _, tb := range tmpl.Tables() {
		var ix []dynamo.Index
		for _, g := range tb.GSIs {
			ix = append(ix, dynamo.Index{Name: g.Name, HashKey: g.HashKey, RangeKey: g.RangeKey, ProjectionType: g.ProjectionType, NonKeyAttributes: g.NonKeyAttributes})
		}
		tables = append(tables, dynamo.Table{Name: tb.LogicalID, Attributes: tb.Attributes, HashKey: tb.HashKey, RangeKey: tb.RangeKey, GSIs: ix, TTLAttribute: tb.TTLAttribute})
	}
	if err := srv.CreateTables(context.Background(), tables); err != nil {
		t.Fatal(err)
	}
	return &store.Store{DB: dynamo.Client(srv.URL()), Directory: "DirectoryTable", Orders: "OrdersTable"}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// scanOrders returns every item of the orders table.
func scanOrders(t *testing.T, s *store.Store) []store.Order {
	t.Helper()
	out, err := s.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(s.Orders)})
	if err != nil {
		t.Fatal(err)
	}
	var orders []store.Order
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &orders); err != nil {
		t.Fatal(err)
	}
	return orders
}
