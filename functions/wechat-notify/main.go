// Command wechat-notify receives WeChat Pay v3 payment callbacks
// (POST /notify/wechat/{iface}): verifies the signature and timestamp, decrypts
// the AEAD_AES_256_GCM resource, marks the order paid once and emits the event.
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
		fmt.Fprintln(os.Stderr, "wechat-notify: init:", err)
		os.Exit(1)
	}
	h := &Handler{Payments: d.Payments}
	platform.Start(h.Handle)
}
