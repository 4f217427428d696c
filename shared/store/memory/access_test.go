package memory_test

import (
	"testing"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/store/accesstest"
	"github.com/estatepay/estatepay/shared/store/memory"
)

func TestAccessContract(t *testing.T) {
	accesstest.Run(t, func(t *testing.T) accounts.Repository { return memory.NewAccess() })
}
