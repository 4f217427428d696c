// Package nuonuo is the einvoice.Platform adapter for 诺诺开放平台 (Nuonuo
// open platform, 数电票), shaped after its public documentation:
//
//   - every call is POST <base>/open/v1/services?senid=&nonce=&timestamp=&appkey=
//     with the body {"…": business content as JSON} and the headers
//     X-Nuonuo-Sign, accessToken, userTax (the seller's tax number), method;
//   - X-Nuonuo-Sign = Base64(HmacSHA1(appSecret,
//     "a=services&l=v1&p=open&k=<appKey>&i=<senid>&n=<nonce>&t=<timestamp>&f=<body>"));
//   - answers are {"code": "E0000", "describe": "…", "result": …}; any
//     other code is a refusal (ErrRefused), except the platform's
//     "system busy" codes, which are retried;
//   - methods: nuonuo.OpeMplatform.requestBillingNew (开票, result
//     invoiceSerialNum; orderNo unique: a repeat returns the first),
//     nuonuo.OpeMplatform.queryInvoiceResult (by serialNos; status "2"
//     开票完成, "20"/"21" 开票中, "22"/"24" 失败), nuonuo.OpeMplatform.fastInvoiceRed
//     (数电快捷冲红: 红字确认单 + red invoice in one call).
//
// Assumed where the public pages say little (README, E-invoices): the result
// callback to callBackUrl is signed like a request — the same query
// parameters and X-Nuonuo-Sign over the raw body with our appSecret — and
// is refused when its timestamp is more than 5 minutes from ours; its body
// is one queryInvoiceResult entry as JSON.
package nuonuo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/einvoice"
)

// Methods.
const (
	MethodIssue = "nuonuo.OpeMplatform.requestBillingNew"
	MethodQuery = "nuonuo.OpeMplatform.queryInvoiceResult"
	MethodRed   = "nuonuo.OpeMplatform.fastInvoiceRed"
)

// MaxSkew is how far a callback's timestamp may be from our clock.
const MaxSkew = 5 * time.Minute

// Config is one Nuonuo application (ISV or merchant mode).
type Config struct {
	BaseURL     string `json:"base_url"` // https://sdk.nuonuo.com (sandbox: https://sandbox.nuonuocs.cn)
	AppKey      string `json:"app_key"`
	AppSecret   string `json:"app_secret"`
	AccessToken string `json:"access_token"`
}

// Client implements einvoice.Platform.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

// New is a client; hc nil: a client with a 10 s timeout.
func New(cfg Config, hc *http.Client, now func() time.Time) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	return &Client{cfg: cfg, http: hc, now: now}
}

// Sign is X-Nuonuo-Sign for one call.
func Sign(appSecret, appKey, senid, nonce, timestamp string, body []byte) string {
	m := hmac.New(sha1.New, []byte(appSecret))
	fmt.Fprintf(m, "a=services&l=v1&p=open&k=%s&i=%s&n=%s&t=%s&f=", appKey, senid, nonce, timestamp)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignedQuery is the query string and signature of a call or callback
// carrying body at now.
func SignedQuery(appKey, appSecret string, body []byte, now time.Time) (url.Values, string) {
	var b [20]byte
	_, _ = rand.Read(b[:])
	senid := hex.EncodeToString(b[:16])
	nonce := fmt.Sprintf("%08d", (int(b[16])<<16|int(b[17])<<8|int(b[18]))%100000000)
	t := strconv.FormatInt(now.Unix(), 10)
	q := url.Values{"senid": {senid}, "nonce": {nonce}, "timestamp": {t}, "appkey": {appKey}}
	return q, Sign(appSecret, appKey, senid, nonce, t, body)
}

// Verify checks a call's or callback's signature and timestamp.
func Verify(appKey, appSecret string, q url.Values, sign string, body []byte, now time.Time) error {
	if q.Get("appkey") != appKey || sign == "" {
		return einvoice.ErrSignature
	}
	t, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return einvoice.ErrSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > MaxSkew || d < -MaxSkew {
		return einvoice.ErrSignature
	}
	want := Sign(appSecret, appKey, q.Get("senid"), q.Get("nonce"), q.Get("timestamp"), body)
	if !hmac.Equal([]byte(want), []byte(sign)) {
		return einvoice.ErrSignature
	}
	return nil
}

type answer struct {
	Code     string          `json:"code"`
	Describe string          `json:"describe"`
	Result   json.RawMessage `json:"result"`
}

// busy are the answers worth retrying (the platform's "system busy").
var busy = map[string]bool{"E9999": true, "070301": true}

func (c *Client) call(ctx context.Context, method, userTax string, content any, out any) error {
	body, err := json.Marshal(content)
	if err != nil {
		return err
	}
	q, sign := SignedQuery(c.cfg.AppKey, c.cfg.AppSecret, body, c.now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/open/v1/services?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.Header.Set("X-Nuonuo-Sign", sign)
	req.Header.Set("accessToken", c.cfg.AccessToken)
	req.Header.Set("userTax", userTax)
	req.Header.Set("method", method)
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("nuonuo %s: %w", method, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("nuonuo %s: HTTP %d", method, res.StatusCode)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("nuonuo %s: %w", method, err)
	}
	if a.Code != "E0000" {
		if busy[a.Code] {
			return fmt.Errorf("nuonuo %s: %s %s", method, a.Code, a.Describe)
		}
		return fmt.Errorf("%w: %s %s", einvoice.ErrRefused, a.Code, a.Describe)
	}
	if out != nil {
		return json.Unmarshal(a.Result, out)
	}
	return nil
}

// Wire shapes (field names as Nuonuo's documentation spells them).

// Detail is one invoiceDetail entry.
type Detail struct {
	GoodsName           string `json:"goodsName"`
	GoodsCode           string `json:"goodsCode"`
	WithTaxFlag         string `json:"withTaxFlag"` // "1": amounts include tax
	TaxRate             string `json:"taxRate"`
	TaxExcludedAmount   string `json:"taxExcludedAmount"`
	Tax                 string `json:"tax"`
	TaxIncludedAmount   string `json:"taxIncludedAmount"`
	InvoiceLineProperty string `json:"invoiceLineProperty"` // "0": a normal line
}

// BillingOrder is requestBillingNew's "order".
type BillingOrder struct {
	BuyerName     string   `json:"buyerName"`
	BuyerTaxNum   string   `json:"buyerTaxNum,omitempty"`
	SalerTaxNum   string   `json:"salerTaxNum"`
	SalerName     string   `json:"salerName,omitempty"`
	OrderNo       string   `json:"orderNo"`
	InvoiceDate   string   `json:"invoiceDate"` // yyyy-MM-dd HH:mm:ss
	Clerk         string   `json:"clerk"`
	PushMode      string   `json:"pushMode"` // "-1": the platform sends nothing (we e-mail)
	Email         string   `json:"email,omitempty"`
	InvoiceType   string   `json:"invoiceType"` // "1" blue
	InvoiceLine   string   `json:"invoiceLine"` // "pc": 数电普票 (电子发票(普通发票))
	CallBackURL   string   `json:"callBackUrl"`
	InvoiceDetail []Detail `json:"invoiceDetail"`
}

// BillingRequest is requestBillingNew's content.
type BillingRequest struct {
	Order BillingOrder `json:"order"`
}

// BillingResult is its result.
type BillingResult struct {
	InvoiceSerialNum string `json:"invoiceSerialNum"`
}

// QueryRequest is queryInvoiceResult's content.
type QueryRequest struct {
	SerialNos            []string `json:"serialNos"`
	IsOfferInvoiceDetail string   `json:"isOfferInvoiceDetail"`
}

// InvoiceResult is one queryInvoiceResult entry (and a callback's body).
type InvoiceResult struct {
	SerialNo    string `json:"serialNo"`
	OrderNo     string `json:"orderNo"`
	Status      string `json:"status"` // "2" done, "20"/"21" issuing, "22"/"24" failed
	StatusMsg   string `json:"statusMsg"`
	FailCause   string `json:"failCause,omitempty"`
	InvoiceNo   string `json:"allElectronicInvoiceNumber"`
	PDFURL      string `json:"pdfUrl"`
	OFDURL      string `json:"ofdUrl,omitempty"`
	InvoiceType string `json:"invoiceType"` // "1" blue, "2" red
}

// RedRequest is fastInvoiceRed's content.
type RedRequest struct {
	OrderNo       string `json:"orderNo"`
	TaxNum        string `json:"taxNum"`
	InvoiceID     string `json:"invoiceId"` // the blue invoice's serial
	InvoiceNumber string `json:"invoiceNumber"`
	RedReason     string `json:"redReason"` // "1" 销货退回
	CallBackURL   string `json:"callBackUrl"`
	BillTime      string `json:"billTime"`
}

// Yuan renders fen as the platform's decimal string: "94.34".
func Yuan(fen int64) string { return domain.FormatYuan(fen) }

// Rate renders basis points as "0.06".
func Rate(bp int64) string { return invoice.Rate(bp).Decimal() }

func shanghai(t time.Time) string {
	return t.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05")
}

// Issue implements einvoice.Platform.
func (c *Client) Issue(ctx context.Context, r einvoice.IssueRequest) (string, error) {
	o := BillingOrder{BuyerName: r.BuyerName, BuyerTaxNum: r.BuyerTaxNo, SalerTaxNum: r.SellerTaxNo, SalerName: r.SellerName,
		OrderNo: r.OrderNo, InvoiceDate: shanghai(r.At), Clerk: "小区收款", PushMode: "-1", Email: r.Email, InvoiceType: "1",
		InvoiceLine: "pc", CallBackURL: r.CallbackURL}
	for _, l := range r.Lines {
		o.InvoiceDetail = append(o.InvoiceDetail, Detail{GoodsName: l.Name, GoodsCode: l.TaxCode, WithTaxFlag: "1", TaxRate: Rate(l.RateBP),
			TaxExcludedAmount: Yuan(l.ExclFen), Tax: Yuan(l.TaxFen), TaxIncludedAmount: Yuan(l.InclFen), InvoiceLineProperty: "0"})
	}
	var res BillingResult
	if err := c.call(ctx, MethodIssue, r.SellerTaxNo, BillingRequest{Order: o}, &res); err != nil {
		return "", err
	}
	if res.InvoiceSerialNum == "" {
		return "", fmt.Errorf("nuonuo: no invoiceSerialNum")
	}
	return res.InvoiceSerialNum, nil
}

// Red implements einvoice.Platform.
func (c *Client) Red(ctx context.Context, r einvoice.RedRequest) (string, error) {
	req := RedRequest{OrderNo: r.OrderNo, TaxNum: r.SellerTaxNo, InvoiceID: r.BlueSerial, InvoiceNumber: r.BlueNumber,
		RedReason: "1", CallBackURL: r.CallbackURL, BillTime: shanghai(r.At)}
	var res BillingResult
	if err := c.call(ctx, MethodRed, r.SellerTaxNo, req, &res); err != nil {
		return "", err
	}
	if res.InvoiceSerialNum == "" {
		return "", fmt.Errorf("nuonuo: no invoiceSerialNum")
	}
	return res.InvoiceSerialNum, nil
}

// Query implements einvoice.Platform (userTax: any; the serials name the seller).
func (c *Client) Query(ctx context.Context, serials []string) ([]einvoice.Result, error) {
	var res []InvoiceResult
	if err := c.call(ctx, MethodQuery, "", QueryRequest{SerialNos: serials, IsOfferInvoiceDetail: "0"}, &res); err != nil {
		return nil, err
	}
	out := make([]einvoice.Result, 0, len(res))
	for _, r := range res {
		out = append(out, r.Result())
	}
	return out, nil
}

// Result maps a platform entry to the port's.
func (r InvoiceResult) Result() einvoice.Result {
	out := einvoice.Result{OrderNo: r.OrderNo, Serial: r.SerialNo, Number: r.InvoiceNo, PDFURL: r.PDFURL, OFDURL: r.OFDURL, Red: r.InvoiceType == "2"}
	switch r.Status {
	case "2":
		out.State = einvoice.Issued
	case "22", "24", "3", "31":
		out.State, out.Message = einvoice.Failed, r.FailCause
		if out.Message == "" {
			out.Message = r.StatusMsg
		}
	default:
		out.State = einvoice.Issuing
	}
	return out
}

// ParseCallback implements einvoice.Platform.
func (c *Client) ParseCallback(h http.Header, query map[string]string, body []byte, now time.Time) (einvoice.Result, error) {
	q := url.Values{}
	for k, v := range query {
		q.Set(k, v)
	}
	if err := Verify(c.cfg.AppKey, c.cfg.AppSecret, q, h.Get("X-Nuonuo-Sign"), body, now); err != nil {
		return einvoice.Result{}, err
	}
	var r InvoiceResult
	if err := json.Unmarshal(body, &r); err != nil || r.OrderNo == "" {
		return einvoice.Result{}, fmt.Errorf("%w: unreadable body", einvoice.ErrSignature)
	}
	return r.Result(), nil
}
