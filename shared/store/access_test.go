package store_test

import (
	"testing"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/store/accesstest"
)

// The AccessTable contract, against the embedded DynamoDB with the
// template's tables (or real DynamoDB: see newStore).
func TestAccessContract(t *testing.T) {
	accesstest.Run(t, func(t *testing.T) accounts.Repository { return newStore(t).AccessRepo() })
}
