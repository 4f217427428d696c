package wechatpay

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	directjsapi "github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"

	"github.com/estatepay/estatepay/shared/pay"
)

// transaction is the union of the direct and partner Transaction objects (the
// query response and the decrypted callback resource).
type transaction struct {
	AppID         string `json:"appid"`
	MchID         string `json:"mchid"`
	SpAppID       string `json:"sp_appid"`
	SpMchID       string `json:"sp_mchid"`
	SubAppID      string `json:"sub_appid"`
	SubMchID      string `json:"sub_mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	TradeState    string `json:"trade_state"`
	SuccessTime   string `json:"success_time"`
	Amount        struct {
		Total *int64 `json:"total"`
	} `json:"amount"`
	Payer struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

// TradeState maps WeChat's trade_state to pay.TradeState. REFUND (转入退款) is
// only ever reached from SUCCESS, so TradeRefunded always means paid, then
// refunded.
func TradeState(s string) pay.TradeState {
	switch s {
	case "SUCCESS":
		return pay.TradePaid
	case "REFUND":
		return pay.TradeRefunded
	case "CLOSED", "REVOKED", "PAYERROR":
		return pay.TradeClosed
	default: // NOTPAY, USERPAYING, ACCEPT
		return pay.TradePending
	}
}

func (t transaction) trade() (pay.Trade, error) {
	out := pay.Trade{
		OrderID:       t.OutTradeNo,
		ProviderTxnID: t.TransactionID,
		State:         TradeState(t.TradeState),
		MerchantID:    t.MchID,
		AppID:         t.AppID,
		PayerID:       t.Payer.OpenID,
	}
	if t.SpMchID != "" {
		out.MerchantID, out.AppID = t.SubMchID, t.SpAppID
		out.PayerID = t.Payer.SubOpenID
		if out.PayerID == "" {
			out.PayerID = t.Payer.SpOpenID
		}
	}
	if t.Amount.Total != nil {
		out.AmountFen = *t.Amount.Total
	}
	if t.SuccessTime != "" {
		at, err := time.Parse(time.RFC3339, t.SuccessTime)
		if err != nil {
			return out, err
		}
		out.PaidAt = at
	}
	return out, nil
}

func fromDirect(t *payments.Transaction) transaction {
	var out transaction
	out.AppID, out.MchID = deref(t.Appid), deref(t.Mchid)
	out.OutTradeNo, out.TransactionID = deref(t.OutTradeNo), deref(t.TransactionId)
	out.TradeState, out.SuccessTime = deref(t.TradeState), deref(t.SuccessTime)
	if t.Amount != nil {
		out.Amount.Total = t.Amount.Total
	}
	if t.Payer != nil {
		out.Payer.OpenID = deref(t.Payer.Openid)
	}
	return out
}

func fromPartner(t *partnerpayments.Transaction) transaction {
	var out transaction
	out.SpAppID, out.SpMchID = deref(t.SpAppid), deref(t.SpMchid)
	out.SubAppID, out.SubMchID = deref(t.SubAppid), deref(t.SubMchid)
	out.OutTradeNo, out.TransactionID = deref(t.OutTradeNo), deref(t.TransactionId)
	out.TradeState, out.SuccessTime = deref(t.TradeState), deref(t.SuccessTime)
	if t.Amount != nil {
		out.Amount.Total = t.Amount.Total
	}
	if t.Payer != nil {
		out.Payer.SpOpenID = deref(t.Payer.SpOpenid)
		out.Payer.SubOpenID = deref(t.Payer.SubOpenid)
	}
	return out
}

// Query looks the order up by out_trade_no. An unknown order is reported as
// State pay.TradeNotFound with a nil error.
func (p *Provider) Query(ctx context.Context, orderID string) (pay.Trade, error) {
	var txn transaction
	var err error
	if p.cfg.partner() {
		var t *partnerpayments.Transaction
		svc := jsapi.JsapiApiService{Client: p.client}
		t, _, err = svc.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{
			OutTradeNo: core.String(orderID), SpMchid: core.String(p.cfg.SpMchID), SubMchid: core.String(p.cfg.SubMchID),
		})
		if err == nil {
			txn = fromPartner(t)
		}
	} else {
		var t *payments.Transaction
		svc := directjsapi.JsapiApiService{Client: p.client}
		t, _, err = svc.QueryOrderByOutTradeNo(ctx, directjsapi.QueryOrderByOutTradeNoRequest{
			OutTradeNo: core.String(orderID), Mchid: core.String(p.cfg.MchID),
		})
		if err == nil {
			txn = fromDirect(t)
		}
	}
	if err != nil {
		if status, code := apiErrorCode(err); status == http.StatusNotFound || code == "ORDER_NOT_EXIST" {
			return pay.Trade{OrderID: orderID, State: pay.TradeNotFound}, nil
		}
		return pay.Trade{}, providerErr("query", err)
	}
	if txn.OutTradeNo != orderID {
		return pay.Trade{}, providerErr("query", fmt.Errorf("answered for out_trade_no %q", txn.OutTradeNo))
	}
	// A query result counts only for what WeChat Pay reports in it, like a callback.
	if err := p.ownsTransaction(txn); err != nil {
		return pay.Trade{}, providerErr("query", fmt.Errorf("transaction %v", err))
	}
	tr, err := txn.trade()
	if err != nil {
		return pay.Trade{}, providerErr("query", err)
	}
	return tr, nil
}

// Close closes an unpaid order (closing an already closed order succeeds).
func (p *Provider) Close(ctx context.Context, orderID string) error {
	var err error
	if p.cfg.partner() {
		svc := jsapi.JsapiApiService{Client: p.client}
		_, err = svc.CloseOrder(ctx, jsapi.CloseOrderRequest{
			OutTradeNo: core.String(orderID), SpMchid: core.String(p.cfg.SpMchID), SubMchid: core.String(p.cfg.SubMchID),
		})
	} else {
		svc := directjsapi.JsapiApiService{Client: p.client}
		_, err = svc.CloseOrder(ctx, directjsapi.CloseOrderRequest{
			OutTradeNo: core.String(orderID), Mchid: core.String(p.cfg.MchID),
		})
	}
	if err != nil {
		return providerErr("close", err)
	}
	return nil
}
