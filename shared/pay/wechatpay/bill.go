package wechatpay

import (
	"bytes"
	"compress/gzip"
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
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"

	"github.com/estatepay/estatepay/shared/pay"
)

// ErrNoStatement is returned by TradeBill when WeChat has no bill for the day
// (NO_STATEMENT_EXIST: no trades or refunds that day). It wraps pay.ErrProvider.
var ErrNoStatement = fmt.Errorf("%w: wechatpay: NO_STATEMENT_EXIST", pay.ErrProvider)

// ErrBillIntegrity is returned by TradeBill when the downloaded bill is not
// the file WeChat described: not a gzip stream, larger than accepted, or
// its SHA1 differs from hash_value. It wraps pay.ErrProvider.
var ErrBillIntegrity = fmt.Errorf("%w: wechatpay: bill integrity", pay.ErrProvider)

// Bounds of a downloaded bill: the gzip as downloaded and the file it
// holds. A day's ALL bill is about 300 bytes a line: 256 MiB is some
// 800,000 lines, and gzip shrinks it about tenfold. Anything beyond is
// refused, not truncated (a gzip bomb stops at the bound).
const (
	maxBillGzipSize = 64 << 20
	maxBillSize     = 256 << 20
)

// billMeta is the tradebill answer: where to download the file and its hash.
type billMeta struct {
	DownloadURL string `json:"download_url"`
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
}

// TradeBill downloads the ALL trade bill of the business day containing day
// (Asia/Shanghai) and returns the raw CSV. It asks for the gzip
// (tar_type=GZIP) through the signed core client, downloads it with a
// client without response validation (WeChat does not sign the file),
// un-gzips it within maxBillSize and checks hash_value, the SHA1 of the
// un-gzipped file.
func (p *Provider) TradeBill(ctx context.Context, day time.Time) ([]byte, error) {
	q := url.Values{}
	q.Set("bill_date", day.In(shanghai).Format("2006-01-02"))
	q.Set("bill_type", "ALL")
	q.Set("tar_type", "GZIP")
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
	var meta billMeta
	if err := core.UnMarshalResponse(result.Response, &meta); err != nil {
		return nil, providerErr("tradebill", err)
	}
	if meta.DownloadURL == "" {
		return nil, providerErr("tradebill", errors.New("no download_url"))
	}
	if !strings.EqualFold(meta.HashType, "SHA1") {
		return nil, providerErr("tradebill", fmt.Errorf("unsupported hash_type %q", meta.HashType))
	}
	dl, err := p.downloadClient()
	if err != nil {
		return nil, providerErr("tradebill download", err)
	}
	res, err := dl.Get(ctx, meta.DownloadURL)
	if err != nil {
		return nil, providerErr("tradebill download", err)
	}
	defer res.Response.Body.Close()
	return gunzipBill(res.Response.Body, meta.HashValue, maxBillGzipSize, maxBillSize)
}

// downloadClient is a core client signing as the merchant (the download
// needs the Authorization header) built with option.WithoutValidator():
// the bill file carries no WeChat signature; hash_value, which came in a
// verified answer, vouches for it.
func (p *Provider) downloadClient() (*core.Client, error) {
	base, err := url.Parse(p.cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(p.cfg.signingMchID(), p.cfg.MerchantSerialNo, p.cfg.MerchantPrivateKey,
			p.cfg.PlatformPublicKeyID, p.cfg.PlatformPublicKey),
		option.WithHTTPClient(redirectClient(p.cfg.HTTPClient, base)),
		option.WithoutValidator(),
	)
}

// gunzipBill reads a downloaded gzip bill (at most maxGzip bytes),
// un-gzips it (at most maxPlain bytes) and checks that the un-gzipped
// file's SHA1 is hashValue (hex). Every refusal wraps ErrBillIntegrity and
// says why.
func gunzipBill(body io.Reader, hashValue string, maxGzip, maxPlain int64) ([]byte, error) {
	gz, err := io.ReadAll(io.LimitReader(body, maxGzip+1))
	if err != nil {
		return nil, providerErr("tradebill download", err)
	}
	if int64(len(gz)) > maxGzip {
		return nil, fmt.Errorf("%w: the gzip is larger than %d bytes", ErrBillIntegrity, maxGzip)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%w: not a gzip file (tar_type=GZIP was asked): %v", ErrBillIntegrity, err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxPlain+1))
	if err != nil {
		return nil, fmt.Errorf("%w: broken gzip: %v", ErrBillIntegrity, err)
	}
	if int64(len(data)) > maxPlain {
		return nil, fmt.Errorf("%w: the un-gzipped bill is larger than %d bytes", ErrBillIntegrity, maxPlain)
	}
	sum := sha1.Sum(data)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, hashValue) {
		return nil, fmt.Errorf("%w: SHA1 of the un-gzipped bill is %s, hash_value says %q", ErrBillIntegrity, got, hashValue)
	}
	return data, nil
}
