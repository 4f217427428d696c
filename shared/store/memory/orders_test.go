package memory_test

import (
	"testing"

	"github.com/estatepay/estatepay/shared/payments"
	"github.com/estatepay/estatepay/shared/store/memory"
	"github.com/estatepay/estatepay/shared/store/ordertest"
)

func TestOrdersContract(t *testing.T) {
	ordertest.Run(t, func(t *testing.T) payments.Orders { return memory.NewOrders() })
}
