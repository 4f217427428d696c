package store_test

import (
	"testing"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/store"
)

func newStore(t *testing.T) *store.Store { return stacktest.NewStore(t) }
