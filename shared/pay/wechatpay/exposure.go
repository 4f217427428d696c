package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/estatepay/estatepay/shared/domain/fenfu"
)

// exposureRequest is the body of 支付方式前置 (POST /v3/pay/transactions/exposure).
type exposureRequest struct {
	AppID     string         `json:"appid,omitempty"`
	MchID     string         `json:"mchid,omitempty"`
	SpAppID   string         `json:"sp_appid,omitempty"`
	SpMchID   string         `json:"sp_mchid,omitempty"`
	SubAppID  string         `json:"sub_appid,omitempty"`
	SubMchID  string         `json:"sub_mchid,omitempty"`
	OpenID    string         `json:"openid,omitempty"`
	SubOpenID string         `json:"sub_openid,omitempty"`
	Amount    exposureAmount `json:"amount"`
}

type exposureAmount struct {
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
}

type exposureResponse struct {
	FqfExposure bool   `json:"fqf_exposure"`
	Token       string `json:"market_exposure_token"`
	CreditGrade string `json:"credit_grade"` // when the provider gives it
}

// Exposure asks WeChat Pay's 支付方式前置 whether to show 分付 to payer (an
// openid of this interface's app) for amountFen, through the SDK's signed
// and verified client. Only for JSAPI payments: 分付 has no H5 or Native.
func (p *Provider) Exposure(ctx context.Context, payerID string, amountFen int64) (fenfu.Exposure, error) {
	if payerID == "" || amountFen <= 0 {
		return fenfu.Exposure{}, errors.New("wechatpay: exposure needs the payer's openid and a positive amount")
	}
	req := exposureRequest{Amount: exposureAmount{Total: amountFen, Currency: "CNY"}}
	if p.cfg.partner() {
		req.SpAppID, req.SpMchID, req.SubMchID, req.SubAppID = p.cfg.SpAppID, p.cfg.SpMchID, p.cfg.SubMchID, p.cfg.SubAppID
		req.SubOpenID = payerID
	} else {
		req.AppID, req.MchID, req.OpenID = p.cfg.AppID, p.cfg.MchID, payerID
	}
	res, err := p.client.Post(ctx, consts.WechatPayAPIServer+"/v3/pay/transactions/exposure", req)
	if err != nil {
		return fenfu.Exposure{}, providerErr("exposure", err)
	}
	defer res.Response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Response.Body, 1<<16))
	if err != nil {
		return fenfu.Exposure{}, providerErr("exposure", err)
	}
	var out exposureResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return fenfu.Exposure{}, providerErr("exposure", fmt.Errorf("response: %w", err))
	}
	return fenfu.Exposure{Show: out.FqfExposure && out.Token != "", Grade: fenfu.Grade(out.CreditGrade), Token: out.Token}, nil
}

// withExposureToken makes the JSAPI package carry the market_exposure_token
// (prepay_id=…&market_exposure_token=…) and signs it again (paySign covers
// appId, timeStamp, nonceStr and package).
func (p *Provider) withExposureToken(appID, ts, nonce, pkg, token string) (string, string, error) {
	pkg += "&market_exposure_token=" + token
	sign, err := utils.SignSHA256WithRSA(fmt.Sprintf("%s\n%s\n%s\n%s\n", appID, ts, nonce, pkg), p.cfg.MerchantPrivateKey)
	if err != nil {
		return "", "", fmt.Errorf("wechatpay: sign package: %w", err)
	}
	return pkg, sign, nil
}
