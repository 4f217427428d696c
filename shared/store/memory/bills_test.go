package memory_test

import (
	"testing"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/store/billtest"
	"github.com/estatepay/estatepay/shared/store/memory"
)

func TestBillsContract(t *testing.T) {
	billtest.Run(t, func(t *testing.T) bills.Repository { return memory.NewBills() })
}
