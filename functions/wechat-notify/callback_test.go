package main

import (
	"github.com/estatepay/estatepay/infra/local/stacktest"

	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
)

// wxCallback describes a TRANSACTION.SUCCESS callback built the way WeChat Pay
// (and infra/sandbox/wechat) builds it: the Transaction JSON sealed with
// AEAD_AES_256_GCM under the merchant's APIv3 key, the envelope signed with the
// platform key (SHA256-RSA over "ts\nnonce\nbody\n"). Every field can be varied
// to forge or corrupt it; the zero value of a field means "genuine".
type wxCallback struct {
	OrderID   string
	AmountFen int64
	MchID     string // default stack.DemoWeChatMchID
	AppID     string // default stack.DemoWeChatAppID
	TxnID     string // default a random 28-digit id
	OpenID    string
	PaidAt    time.Time // default now (second precision)
	Iface     string    // path segment; default demo-wechat

	Timestamp  time.Time       // Wechatpay-Timestamp; default now
	KeyID      string          // Wechatpay-Serial; default the demo platform key id
	SigningKey *rsa.PrivateKey // default the sandbox platform key
	APIv3Key   string          // default the demo merchant's
	// TamperBeforeSign flips a ciphertext byte and then signs (AEAD must fail);
	// TamperAfterSign flips one after signing (signature must fail).
	TamperBeforeSign, TamperAfterSign bool
	RawBody                           []byte // replaces the whole envelope (still signed)
	PadTo                             int    // pad the envelope with trailing spaces to this many bytes (signed)
	NoHeaders                         bool   // omit the Wechatpay-* headers
}

func newTxnID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	n := new(bytes.Buffer)
	for _, c := range b {
		n.WriteString(strconv.Itoa(int(c) % 10))
		n.WriteString(strconv.Itoa(int(c) / 26 % 10))
	}
	return "4200" + n.String()
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// filled returns c with the genuine defaults applied.
func (c wxCallback) filled(s *stack.Stack) wxCallback {
	if c.MchID == "" {
		c.MchID = stack.DemoWeChatMchID
	}
	if c.AppID == "" {
		c.AppID = stack.DemoWeChatAppID
	}
	if c.TxnID == "" {
		c.TxnID = newTxnID()
	}
	if c.PaidAt.IsZero() {
		c.PaidAt = time.Now().Truncate(time.Second)
	}
	if c.Iface == "" {
		c.Iface = "demo-wechat"
	}
	if c.Timestamp.IsZero() {
		c.Timestamp = time.Now()
	}
	if c.KeyID == "" {
		c.KeyID = stack.DemoWeChatPublicKeyID
	}
	if c.SigningKey == nil {
		c.SigningKey = s.Keys().WeChatPlatform
	}
	if c.APIv3Key == "" {
		c.APIv3Key = s.Keys().APIv3Key
	}
	return c
}

// request builds the HTTP request for the callback (to the gateway).
func (c wxCallback) request(t testing.TB, s *stack.Stack) *http.Request {
	t.Helper()
	body, hdr := c.build(t, s)
	req, err := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/notify/wechat/"+c.filled(s).Iface, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	return req
}

// build returns the body and headers of the callback.
func (c wxCallback) build(t testing.TB, s *stack.Stack) ([]byte, http.Header) {
	t.Helper()
	c = c.filled(s)
	cst := time.FixedZone("CST", 8*3600)
	txn := map[string]any{
		"appid": c.AppID, "mchid": c.MchID, "out_trade_no": c.OrderID, "transaction_id": c.TxnID,
		"trade_type": "JSAPI", "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
		"attach": "", "success_time": c.PaidAt.In(cst).Format(time.RFC3339),
		"payer":  map[string]any{"openid": c.OpenID},
		"amount": map[string]any{"total": c.AmountFen, "payer_total": c.AmountFen, "currency": "CNY", "payer_currency": "CNY"},
	}
	plain, err := json.Marshal(txn)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher([]byte(c.APIv3Key))
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, 12)
	if err != nil {
		t.Fatal(err)
	}
	nonce := randomNonce()[:12]
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte("transaction"))
	if c.TamperBeforeSign {
		ct[0] ^= 0x01
	}
	eventID := "e" + randomNonce()
	env := func(ct []byte) []byte {
		b, err := json.Marshal(map[string]any{
			"id": eventID, "create_time": c.PaidAt.In(cst).Format(time.RFC3339),
			"resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
			"resource": map[string]string{"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
				"ciphertext": base64.StdEncoding.EncodeToString(ct), "associated_data": "transaction", "nonce": nonce},
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	body := env(ct)
	if c.RawBody != nil {
		body = c.RawBody
	}
	if n := c.PadTo - len(body); n > 0 {
		body = append(body, bytes.Repeat([]byte(" "), n)...)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Mozilla/4.0")
	if !c.NoHeaders {
		ts := strconv.FormatInt(c.Timestamp.Unix(), 10)
		sigNonce := randomNonce()
		sum := sha256.Sum256([]byte(ts + "\n" + sigNonce + "\n" + string(body) + "\n"))
		sig, err := rsa.SignPKCS1v15(rand.Reader, c.SigningKey, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		h.Set("Wechatpay-Serial", c.KeyID)
		h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", sigNonce)
		h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	}
	if c.TamperAfterSign && c.RawBody == nil {
		ct2 := append([]byte(nil), ct...)
		ct2[len(ct2)-1] ^= 0x01
		// Same envelope, one ciphertext bit different from what was signed.
		body = env(ct2)
	}
	return body, h
}

type reply struct {
	Status int
	Body   []byte
}

func send(t testing.TB, req *http.Request) reply {
	t.Helper()
	r, err := do(req)
	if err != nil {
		t.Fatalf("post callback: %v", err)
	}
	return r
}

// do posts req (safe from any goroutine).
func do(req *http.Request) (reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := stacktest.HTTPClient.Do(req.WithContext(ctx))
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b := new(bytes.Buffer)
	_, err = b.ReadFrom(resp.Body)
	return reply{Status: resp.StatusCode, Body: b.Bytes()}, err
}

// failBody checks a WeChat failure answer: {"code":"FAIL","message":"..."}.
func failBody(t testing.TB, r reply) {
	t.Helper()
	var b struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Code != "FAIL" || b.Message == "" {
		t.Errorf("answer %d %q is not {\"code\":\"FAIL\",\"message\":...}", r.Status, r.Body)
	}
}
