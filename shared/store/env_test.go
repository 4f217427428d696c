package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/store"
)

// newStore is a store on the embedded DynamoDB with the template's tables;
// with ESTATEPAY_DYNAMODB_REGION set it is a store on real DynamoDB instead,
// on the deployed tables named by ESTATEPAY_DIRECTORY_TABLE and
// ESTATEPAY_ORDERS_TABLE (ESTATEPAY_ACCESS_TABLE and ESTATEPAY_BILLS_TABLE for the AccessTable and BillsTable
// contract; credentials from the environment, as the SDK finds
// them). Tests write orders with unique ids there and never delete them.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	region := os.Getenv("ESTATEPAY_DYNAMODB_REGION")
	if region == "" {
		return stacktest.NewStore(t)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		t.Fatal(err)
	}
	dir, orders := os.Getenv("ESTATEPAY_DIRECTORY_TABLE"), os.Getenv("ESTATEPAY_ORDERS_TABLE")
	if dir == "" || orders == "" {
		t.Fatal("ESTATEPAY_DYNAMODB_REGION needs ESTATEPAY_DIRECTORY_TABLE and ESTATEPAY_ORDERS_TABLE")
	}
	return &store.Store{DB: dynamodb.NewFromConfig(cfg), Directory: dir, Orders: orders, Access: os.Getenv("ESTATEPAY_ACCESS_TABLE"), Bills: os.Getenv("ESTATEPAY_BILLS_TABLE")}
}
