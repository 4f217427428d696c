package wechatpay

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"

	"github.com/estatepay/estatepay/shared/pay"
)

// ErrNoStatement is returned by TradeBill when WeChat has no bill for the day
// (NO_STATEMENT_EXIST: no trades or refunds that day). It wraps pay.ErrProvider.
var ErrNoStatement = fmt.Errorf("%w: wechatpay: NO_STATEMENT_EXIST", pay.ErrProvider)

// maxBillSize bounds a downloaded bill.
const maxBillSize = 256 << 20

// TradeBill downloads the ALL trade bill of the business day containing day
// (Asia/Shanghai) and returns the raw CSV, after checking its SHA1 hash.
func (p *Provider) TradeBill(ctx context.Context, day time.Time) ([]byte, error) {
	q := url.Values{}
	q.Set("bill_date", day.In(shanghai).Format("2006-01-02"))
	q.Set("bill_type", "ALL")
	if p.cfg.partner() {
		q.Set("sub_mchid", p.cfg.SubMchID)
	}
	result, err := p.client.Request(ctx, http.MethodGet, consts.WechatPayAPIServer+"/v3/bill/tradebill",
		http.Header{}, q, nil, consts.ApplicationJSON)
	if err != nil {
		if _, code := apiErrorCode(err); code == "NO_STATEMENT_EXIST" {
			return nil, fmt.Errorf("%w: %s", ErrNoStatement, q.Get("bill_date"))
		}
		return nil, providerErr("tradebill", err)
	}
	var meta struct {
		DownloadURL string `json:"download_url"`
		HashType    string `json:"hash_type"`
		HashValue   string `json:"hash_value"`
	}
	if err := core.UnMarshalResponse(result.Response, &meta); err != nil {
		return nil, providerErr("tradebill", err)
	}
	if meta.DownloadURL == "" {
		return nil, providerErr("tradebill", errors.New("no download_url"))
	}
	// The bill file is not signed by WeChat; its integrity comes from hash_value.
	dl := core.NewClientWithValidator(p.client, &validators.NullValidator{})
	res, err := dl.Get(ctx, meta.DownloadURL)
	if err != nil {
		return nil, providerErr("tradebill download", err)
	}
	defer res.Response.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Response.Body, maxBillSize))
	if err != nil {
		return nil, providerErr("tradebill download", err)
	}
	if !strings.EqualFold(meta.HashType, "SHA1") {
		return nil, providerErr("tradebill", fmt.Errorf("unsupported hash_type %q", meta.HashType))
	}
	sum := sha1.Sum(data)
	if !strings.EqualFold(hex.EncodeToString(sum[:]), meta.HashValue) {
		return nil, providerErr("tradebill", errors.New("bill hash mismatch"))
	}
	return data, nil
}
