package wechatpay

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"

	"github.com/estatepay/estatepay/shared/pay"
)

// ParseNotification verifies the callback's platform signature and timestamp
// window, decrypts its resource and returns the transaction. Errors wrap
// pay.ErrBadSignature (bad/missing signature, unknown key id, AEAD tag
// failure), pay.ErrStaleTimestamp or pay.ErrMalformed.
func (p *Provider) ParseNotification(ctx context.Context, r *http.Request) (pay.Notification, error) {
	var txn transaction
	req, err := p.parseNotify(ctx, r, &txn)
	if err != nil {
		return pay.Notification{}, err
	}
	if req.Resource == nil || req.Resource.OriginalType != "transaction" {
		return pay.Notification{}, fmt.Errorf("%w: not a transaction notification (event %s)", pay.ErrMalformed, req.EventType)
	}
	if err := p.ownsTransaction(txn); err != nil {
		return pay.Notification{}, fmt.Errorf("%w: notification %v", pay.ErrMalformed, err)
	}
	tr, err := txn.trade()
	if err != nil {
		return pay.Notification{}, fmt.Errorf("%w: success_time: %v", pay.ErrMalformed, err)
	}
	if tr.OrderID == "" {
		return pay.Notification{}, fmt.Errorf("%w: transaction without out_trade_no", pay.ErrMalformed)
	}
	return pay.Notification{EventID: req.ID, Trade: tr}, nil
}

// parseNotify is the one verification path of every callback: the four
// Wechatpay-* headers must be present, the platform signature and timestamp
// window must hold, and the AEAD_AES_256_GCM resource must decrypt (with the
// APIv3 key) into content. Errors are classified as pay error kinds.
func (p *Provider) parseNotify(ctx context.Context, r *http.Request, content any) (*notify.Request, error) {
	for _, h := range []string{"Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce"} {
		if strings.TrimSpace(r.Header.Get(h)) == "" {
			return nil, fmt.Errorf("%w: missing header %s", pay.ErrBadSignature, h)
		}
	}
	req, err := p.notifier.ParseNotifyRequest(ctx, r, content)
	if err != nil {
		return nil, classifyNotifyError(err)
	}
	return req, nil
}

// ownsTransaction checks, on what WeChat Pay itself reported, that the
// transaction was paid to this interface's merchant through its app (C1, fail
// closed: a missing id never matches). Direct: mchid and appid. Partner: sp_mchid
// and sub_mchid, sp_appid, and sub_appid when the interface has one.
func (p *Provider) ownsTransaction(t transaction) error {
	same := func(got, want string) bool { return got != "" && got == want }
	if p.cfg.partner() {
		switch {
		case !same(t.SpMchID, p.cfg.SpMchID) || !same(t.SubMchID, p.cfg.SubMchID):
			return fmt.Errorf("for another merchant (sp_mchid %q sub_mchid %q)", t.SpMchID, t.SubMchID)
		case !same(t.SpAppID, p.cfg.SpAppID):
			return fmt.Errorf("for another app (sp_appid %q)", t.SpAppID)
		case p.cfg.SubAppID != "" && !same(t.SubAppID, p.cfg.SubAppID):
			return fmt.Errorf("for another app (sub_appid %q)", t.SubAppID)
		}
		return nil
	}
	switch {
	case !same(t.MchID, p.cfg.MchID) || t.SpMchID != "":
		return fmt.Errorf("for another merchant (mchid %q sp_mchid %q)", t.MchID, t.SpMchID)
	case !same(t.AppID, p.cfg.AppID):
		return fmt.Errorf("for another app (appid %q)", t.AppID)
	}
	return nil
}

// classifyNotifyError maps wechatpay-go core/notify errors (plain strings) to
// the pay error kinds. The SDK's message embeds the whole request; only the
// reason is kept.
func classifyNotifyError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ", request: "); i >= 0 {
		msg = msg[:i]
	}
	switch {
	case strings.HasPrefix(msg, "invalid notification"):
		switch {
		case strings.Contains(msg, "expires"):
			return fmt.Errorf("%w: %s", pay.ErrStaleTimestamp, msg)
		case strings.Contains(msg, "invalid `Wechatpay-Timestamp`"):
			return fmt.Errorf("%w: %s", pay.ErrMalformed, msg)
		}
		return fmt.Errorf("%w: %s", pay.ErrBadSignature, msg)
	case strings.HasPrefix(msg, "unsupported Wechatpay-Signature-Type"):
		return fmt.Errorf("%w: %s", pay.ErrBadSignature, msg)
	case strings.Contains(msg, "decrypt error"):
		// The AEAD tag did not verify: tampered ciphertext or wrong APIv3 key.
		return fmt.Errorf("%w: %s", pay.ErrBadSignature, msg)
	}
	return fmt.Errorf("%w: %s", pay.ErrMalformed, msg)
}
