package store_test

import (
	"testing"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/store/billtest"
)

// The bill repository contract, against the embedded DynamoDB with the
// template's BillsTable (or real DynamoDB: see newStore).
func TestBillsContract(t *testing.T) {
	billtest.Run(t, func(t *testing.T) bills.Repository { return newStore(t).BillRepo() })
}
