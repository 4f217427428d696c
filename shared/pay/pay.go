// Package pay is the provider port: everything the product asks of a payment
// provider (WeChat Pay API v3, Alipay open platform). Adapters live in
// shared/pay/wechatpay and shared/pay/alipay and are built on the providers' real
// SDKs (wechatpay-go, smartwalle/alipay v3). Money is int64 fen throughout.
package pay

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Channel names a provider.
type Channel string

const (
	WeChat Channel = "wechat"
	Alipay Channel = "alipay"
)

// PrepayRequest asks the provider to open a trade for one of our orders.
type PrepayRequest struct {
	OrderID     string    // our out_trade_no: 6-32 chars of [0-9A-Za-z_-]
	AmountFen   int64     // > 0
	Description string    // shown to the payer
	ExpireAt    time.Time // WeChat time_expire / Alipay time_expire
	NotifyURL   string    // our webhook for this interface
	ReturnURL   string    // Alipay wap: where the browser returns after paying
	QuitURL     string    // Alipay wap: where the browser goes on cancel
	PayerID     string    // WeChat: openid (direct) / sub_openid or sp_openid (partner)
	ClientIP    string
	// ExposureToken is WeChat's market_exposure_token when the payer chose
	// 分付 (JSAPI only): the package then carries it.
	ExposureToken string
}

// PrepayResult is what the payer's page needs to pay.
type PrepayResult struct {
	// WeChat JSAPI: the signed parameters for WeixinJSBridge getBrandWCPayRequest
	// (appId, timeStamp, nonceStr, package, signType, paySign).
	JSAPI map[string]string `json:"jsapi,omitempty"`
	// Alipay wap: the signed gateway URL the browser navigates to.
	RedirectURL string `json:"redirect_url,omitempty"`
	// ProviderRef is the provider's handle for the open trade (WeChat prepay_id).
	ProviderRef string `json:"-"`
}

// TradeState is the provider-side state of a trade, normalised.
type TradeState string

const (
	TradePending  TradeState = "PENDING"  // created, not paid (NOTPAY/USERPAYING, WAIT_BUYER_PAY)
	TradePaid     TradeState = "PAID"     // SUCCESS, TRADE_SUCCESS/TRADE_FINISHED
	TradeClosed   TradeState = "CLOSED"   // CLOSED/REVOKED/PAYERROR, TRADE_CLOSED (unpaid)
	TradeRefunded TradeState = "REFUNDED" // paid, then refunded in full: REFUND (WeChat), TRADE_CLOSED with a payment (Alipay); never a success
	TradeNotFound TradeState = "NOTFOUND" // the provider never saw this out_trade_no
)

// Trade is a provider's view of one of our orders.
type Trade struct {
	OrderID       string     // out_trade_no
	ProviderTxnID string     // transaction_id / trade_no
	State         TradeState //
	AmountFen     int64      // total amount of the trade (fen)
	PaidAt        time.Time  // success_time / gmt_payment (zero unless paid)
	// Who received the money, as the provider reported it; adapters reject
	// reports naming another merchant or app, or none. WeChat: mchid (direct) or
	// sub_mchid (partner). Alipay: seller_id; a trade.query answer names no
	// seller, so there it is the merchant the query's credentials are scoped to,
	// confirmed by Alipay for ISV tokens (see alipay.Provider.Query).
	MerchantID string
	// WeChat: appid (direct) or sp_appid (partner). Alipay: app_id, or in ISV
	// mode the authorising merchant's auth_app_id.
	AppID   string
	PayerID string // openid / buyer_open_id or buyer_id
}

// Notification is a verified (signature, timestamp) and decrypted provider callback.
type Notification struct {
	EventID string // WeChat notification id / Alipay notify_id
	Trade
}

// RefundRequest refunds (part of) a paid trade.
type RefundRequest struct {
	OrderID   string
	RefundID  string // our out_refund_no (WeChat) / out_request_no (Alipay), idempotent on the provider side
	AmountFen int64  // refund amount
	TotalFen  int64  // original trade amount
	Reason    string
	NotifyURL string // WeChat: notify_url for the REFUND.* notification (optional); ignored by Alipay
}

// RefundState is the provider-side state of a refund, normalised.
type RefundState string

const (
	RefundSuccess    RefundState = "SUCCESS"    // the money went back: SUCCESS, REFUND_SUCCESS
	RefundProcessing RefundState = "PROCESSING" // accepted, not settled yet
	RefundClosed     RefundState = "CLOSED"     // WeChat: closed without refunding
	RefundAbnormal   RefundState = "ABNORMAL"   // WeChat: the payer's account could not receive it; needs the merchant
)

// RefundResult reports a refund.
type RefundResult struct {
	ProviderRefundID string      // WeChat refund_id; Alipay trade_no (Alipay has no refund id)
	Status           string      // provider's status string (SUCCESS, PROCESSING, REFUND_SUCCESS, ...)
	State            RefundState //
	AmountFen        int64       // this refund's amount
	SucceededAt      time.Time   // zero unless State is RefundSuccess (and the provider said when)
}

// RefundNotification is a verified (signature, timestamp) and decrypted refund
// result callback (WeChat REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED).
type RefundNotification struct {
	EventID          string // notification id
	OrderID          string // out_trade_no
	RefundID         string // out_refund_no
	ProviderRefundID string // refund_id
	State            RefundState
	AmountFen        int64     // amount.refund
	TotalFen         int64     // amount.total (the trade)
	SucceededAt      time.Time // success_time (zero unless RefundSuccess)
	// The merchant the refund was made for, as the provider reported it: mchid
	// (direct) or sub_mchid (partner). Adapters reject reports naming another.
	MerchantID string
}

// Provider is one merchant interface at one provider.
type Provider interface {
	Channel() Channel
	Prepay(ctx context.Context, req PrepayRequest) (PrepayResult, error)
	// ParseNotification verifies the callback's signature (and, for WeChat, its
	// timestamp window) and decrypts it. Errors wrap ErrBadSignature,
	// ErrStaleTimestamp or ErrMalformed so callers can log security events.
	ParseNotification(ctx context.Context, r *http.Request) (Notification, error)
	Query(ctx context.Context, orderID string) (Trade, error)
	Close(ctx context.Context, orderID string) error
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// QueryRefund reports the refund refundID (our out_refund_no /
	// out_request_no) of the order orderID. An unknown refund is an error
	// wrapping ErrRefundNotFound.
	QueryRefund(ctx context.Context, orderID, refundID string) (RefundResult, error)
	// ParseRefundNotification verifies and decrypts a refund result callback
	// like ParseNotification (errors wrap ErrBadSignature, ErrStaleTimestamp or
	// ErrMalformed). Providers without refund callbacks (Alipay) return an error
	// wrapping ErrUnsupported.
	ParseRefundNotification(ctx context.Context, r *http.Request) (RefundNotification, error)
	// TradeBill downloads the provider's trade bill for a business day (Asia/Shanghai).
	TradeBill(ctx context.Context, day time.Time) ([]byte, error)
}

var (
	ErrBadSignature   = errors.New("pay: signature verification failed")
	ErrStaleTimestamp = errors.New("pay: timestamp outside the accepted window")
	ErrMalformed      = errors.New("pay: malformed notification")
	// ErrProvider is a business or transport failure reported by the provider.
	ErrProvider = errors.New("pay: provider error")
	// ErrRefundNotFound: the provider knows no such refund for the order.
	ErrRefundNotFound = errors.New("pay: refund not found")
	// ErrUnsupported: the provider has no such operation.
	ErrUnsupported = errors.New("pay: not supported by this provider")
)
