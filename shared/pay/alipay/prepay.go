package alipay

import (
	"github.com/estatepay/estatepay/shared/domain"

	"context"
	"fmt"
	"strings"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/pay"
)

// subjectReplacer swaps characters Alipay forbids in subject for full-width forms.
var subjectReplacer = strings.NewReplacer("/", "／", "=", "＝", "&", "＆")

// Prepay builds the signed alipay.trade.wap.pay URL the payer's browser
// opens (PrepayResult.RedirectURL). Alipay creates the trade only when the
// payer opens the cashier, so nothing is sent to Alipay here.
func (p *Provider) Prepay(ctx context.Context, req pay.PrepayRequest) (pay.PrepayResult, error) {
	if req.OrderID == "" || len(req.OrderID) > 64 {
		return pay.PrepayResult{}, fmt.Errorf("alipay prepay: invalid order id %q", req.OrderID)
	}
	if req.AmountFen <= 0 {
		return pay.PrepayResult{}, fmt.Errorf("alipay prepay: amount must be positive, got %d fen", req.AmountFen)
	}
	subject := subjectReplacer.Replace(strings.TrimSpace(req.Description))
	if subject == "" {
		return pay.PrepayResult{}, fmt.Errorf("alipay prepay: description (subject) is required")
	}
	if r := []rune(subject); len(r) > 256 {
		subject = string(r[:256])
	}
	param := sdk.TradeWapPay{
		Trade: sdk.Trade{
			NotifyURL:    req.NotifyURL,
			ReturnURL:    req.ReturnURL,
			AppAuthToken: p.cfg.AppAuthToken,
			Subject:      subject,
			OutTradeNo:   req.OrderID,
			TotalAmount:  domain.FormatYuan(req.AmountFen),
			ProductCode:  "QUICK_WAP_WAY",
		},
		QuitURL: req.QuitURL,
	}
	if !req.ExpireAt.IsZero() {
		param.TimeExpire = req.ExpireAt.In(cst).Format(timeLayout)
	}
	u, err := p.client.TradeWapPay(param)
	if err != nil {
		return pay.PrepayResult{}, wrapErr("trade.wap.pay", err)
	}
	return pay.PrepayResult{RedirectURL: u.String()}, nil
}
