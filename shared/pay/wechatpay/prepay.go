package wechatpay

import (
	"context"
	"errors"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/partnerpayments/jsapi"
	directjsapi "github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"

	"github.com/estatepay/estatepay/shared/pay"
)

// expireTime renders t as WeChat's time_expire (seconds precision, +08:00).
func expireTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	e := t.Truncate(time.Second).In(shanghai)
	return &e
}

// Prepay opens a JSAPI trade and returns the signed getBrandWCPayRequest parameters.
func (p *Provider) Prepay(ctx context.Context, req pay.PrepayRequest) (pay.PrepayResult, error) {
	if req.AmountFen <= 0 {
		return pay.PrepayResult{}, errors.New("wechatpay: prepay amount must be positive")
	}
	if req.PayerID == "" {
		return pay.PrepayResult{}, errors.New("wechatpay: prepay needs the payer's openid")
	}
	var scene *directjsapi.SceneInfo
	var pscene *jsapi.SceneInfo
	if req.ClientIP != "" {
		scene = &directjsapi.SceneInfo{PayerClientIp: core.String(req.ClientIP)}
		pscene = &jsapi.SceneInfo{PayerClientIp: core.String(req.ClientIP)}
	}
	var prepayID, appID, ts, nonce, pkg, signType, paySign *string
	if p.cfg.partner() {
		payer := &jsapi.Payer{SpOpenid: core.String(req.PayerID)}
		payAppID := p.cfg.SpAppID
		var subAppID *string
		if p.cfg.SubAppID != "" {
			payer = &jsapi.Payer{SubOpenid: core.String(req.PayerID)}
			payAppID = p.cfg.SubAppID
			subAppID = core.String(p.cfg.SubAppID)
		}
		svc := jsapi.JsapiApiService{Client: p.client}
		resp, _, err := svc.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{
			SpAppid:     core.String(p.cfg.SpAppID),
			SpMchid:     core.String(p.cfg.SpMchID),
			SubAppid:    subAppID,
			SubMchid:    core.String(p.cfg.SubMchID),
			Description: core.String(req.Description),
			OutTradeNo:  core.String(req.OrderID),
			TimeExpire:  expireTime(req.ExpireAt),
			NotifyUrl:   core.String(req.NotifyURL),
			Amount:      &jsapi.Amount{Total: core.Int64(req.AmountFen), Currency: core.String("CNY")},
			Payer:       payer,
			SceneInfo:   pscene,
		}, payAppID)
		if err != nil {
			return pay.PrepayResult{}, providerErr("prepay", err)
		}
		prepayID, appID, ts, nonce, pkg, signType, paySign = resp.PrepayId, resp.Appid, resp.TimeStamp, resp.NonceStr, resp.Package, resp.SignType, resp.PaySign
	} else {
		svc := directjsapi.JsapiApiService{Client: p.client}
		resp, _, err := svc.PrepayWithRequestPayment(ctx, directjsapi.PrepayRequest{
			Appid:       core.String(p.cfg.AppID),
			Mchid:       core.String(p.cfg.MchID),
			Description: core.String(req.Description),
			OutTradeNo:  core.String(req.OrderID),
			TimeExpire:  expireTime(req.ExpireAt),
			NotifyUrl:   core.String(req.NotifyURL),
			Amount:      &directjsapi.Amount{Total: core.Int64(req.AmountFen), Currency: core.String("CNY")},
			Payer:       &directjsapi.Payer{Openid: core.String(req.PayerID)},
			SceneInfo:   scene,
		})
		if err != nil {
			return pay.PrepayResult{}, providerErr("prepay", err)
		}
		prepayID, appID, ts, nonce, pkg, signType, paySign = resp.PrepayId, resp.Appid, resp.TimeStamp, resp.NonceStr, resp.Package, resp.SignType, resp.PaySign
	}
	if prepayID == nil || *prepayID == "" {
		return pay.PrepayResult{}, providerErr("prepay", errors.New("response has no prepay_id"))
	}
	if req.ExposureToken != "" {
		p2, s2, err := p.withExposureToken(deref(appID), deref(ts), deref(nonce), deref(pkg), req.ExposureToken)
		if err != nil {
			return pay.PrepayResult{}, err
		}
		pkg, paySign = &p2, &s2
	}
	return pay.PrepayResult{
		JSAPI: map[string]string{
			"appId":     deref(appID),
			"timeStamp": deref(ts),
			"nonceStr":  deref(nonce),
			"package":   deref(pkg),
			"signType":  deref(signType),
			"paySign":   deref(paySign),
		},
		ProviderRef: *prepayID,
	}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
