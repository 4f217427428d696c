package wechat_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"

	"github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/pay/wechatpay"
)

// The trade bill as WeChat serves it: plain without tar_type, gzip with
// tar_type=GZIP, hash_value the SHA1 of the plain file both times; any
// other tar_type is a PARAM_ERROR. Fetched with the bare SDK: the answer is
// signed (the signed client verifies it), the file is not (a client built
// with option.WithoutValidator downloads it).
func TestTradeBillPlainOrGzip(t *testing.T) {
	k := keys()
	sb := wechat.New(wechat.Config{
		PlatformKey: k[0], PlatformKeyID: keyID,
		Merchants:     []wechat.Merchant{{MchID: mchID, SerialNo: serial, PublicKey: &k[1].PublicKey, APIv3Key: apiV3, AppIDs: []string{appID}}},
		Logger:        slog.New(slog.DiscardHandler),
		RetrySchedule: []time.Duration{},
		SameDayBills:  true,
	})
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); srv.Close() })
	f := &fixture{sb: sb, url: srv.URL}
	p, err := wechatpay.New(wechatpay.Config{Mode: wechatpay.ModeDirect, AppID: appID, MchID: mchID,
		MerchantSerialNo: serial, MerchantPrivateKey: k[1], APIv3Key: apiV3,
		PlatformPublicKeyID: keyID, PlatformPublicKey: &k[0].PublicKey, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	f.prepay(t, "GZ_BILL_1", "物业费", 12345)
	if err := sb.PayWithoutCallback("GZ_BILL_1"); err != nil {
		t.Fatal(err)
	}
	signed := sdkClient(t, f)
	base, _ := url.Parse(srv.URL)
	unsigned, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(mchID, serial, k[1], keyID, &k[0].PublicKey),
		option.WithHTTPClient(&http.Client{Transport: toSandbox{base}}), option.WithoutValidator())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	fetch := func(tarType string) (meta map[string]string, file []byte, contentType string) {
		t.Helper()
		q := url.Values{"bill_date": {day}, "bill_type": {"ALL"}}
		if tarType != "" {
			q.Set("tar_type", tarType)
		}
		res, err := signed.Request(ctx, http.MethodGet, consts.WechatPayAPIServer+"/v3/bill/tradebill", http.Header{}, q, nil, consts.ApplicationJSON)
		if err != nil {
			t.Fatalf("tradebill %q: %v", tarType, err)
		}
		if err := core.UnMarshalResponse(res.Response, &meta); err != nil {
			t.Fatal(err)
		}
		// The download itself is unsigned: the signed client refuses it.
		if _, err := signed.Get(ctx, meta["download_url"]); err == nil {
			t.Fatal("the signed client accepted an unsigned bill file")
		}
		dl, err := unsigned.Get(ctx, meta["download_url"])
		if err != nil {
			t.Fatalf("download %q: %v", tarType, err)
		}
		defer dl.Response.Body.Close()
		b, err := io.ReadAll(dl.Response.Body)
		if err != nil {
			t.Fatal(err)
		}
		return meta, b, dl.Response.Header.Get("Content-Type")
	}
	sha := func(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

	pm, plain, ct := fetch("")
	if !bytes.HasPrefix(plain, []byte("交易时间,")) || !bytes.Contains(plain, []byte("`GZ_BILL_1,")) || ct != "text/plain; charset=utf-8" {
		t.Fatalf("plain bill (%s):\n%s", ct, plain)
	}
	if pm["hash_type"] != "SHA1" || pm["hash_value"] != sha(plain) {
		t.Fatalf("plain meta %+v, sha1 %s", pm, sha(plain))
	}

	gm, gz, ct := fetch("GZIP")
	if !bytes.HasPrefix(gz, []byte{0x1f, 0x8b}) || ct != "application/octet-stream" {
		t.Fatalf("tar_type=GZIP served %q (%s), not a gzip file", gz[:min(len(gz), 16)], ct)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unz, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unz, plain) {
		t.Fatalf("the gzip holds another file:\n%s", unz)
	}
	if gm["hash_type"] != "SHA1" || gm["hash_value"] != sha(plain) || gm["hash_value"] == sha(gz) {
		t.Fatalf("gzip meta %+v: hash_value must be the SHA1 of the un-gzipped file %s", gm, sha(plain))
	}

	_, err = signed.Request(ctx, http.MethodGet, consts.WechatPayAPIServer+"/v3/bill/tradebill", http.Header{},
		url.Values{"bill_date": {day}, "tar_type": {"ZIP"}}, nil, consts.ApplicationJSON)
	var ae *core.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Code != "PARAM_ERROR" {
		t.Fatalf("tar_type=ZIP: %v", err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(ae.Body), &body); err != nil || body["message"] == "" {
		t.Fatalf("tar_type=ZIP answer without a message: %s", ae.Body)
	}
}
