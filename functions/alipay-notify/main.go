// Command alipay-notify receives Alipay async notifications
// (POST /notify/alipay/{iface}): verifies RSA2, marks the order paid once, emits
// the event and answers "success".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/setup"
)

func main() {
	d, err := setup.FromEnv(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "alipay-notify: init:", err)
		os.Exit(1)
	}
	h := &Handler{Payments: d.Payments}
	platform.Start(h.Handle)
}
