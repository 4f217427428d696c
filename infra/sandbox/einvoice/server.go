// Package einvoice is the local stand-in for 诺诺开放平台 (the e-invoice
// platform shared/einvoice/nuonuo speaks to): POST /open/v1/services with
// the platform's query parameters and X-Nuonuo-Sign (HmacSHA1, verified with
// the sandbox's app secret, timestamp within 5 minutes), methods
// requestBillingNew (deduplicated by orderNo: the same orderNo always gets
// the same serial), queryInvoiceResult and fastInvoiceRed.
//
// An accepted invoice is issued asynchronously: after Config.Delay (default
// 300 ms; negative: only when Deliver is called — tests never sleep) it gets
// a 20-digit 数电票 number and a PDF the sandbox serves at
// GET /invoices/<serial>.pdf, and its result is POSTed to the request's
// callBackUrl, signed like a request, until the receiver answers HTTP 200
// with {"status":"0000"} (Config.RetrySchedule between attempts).
//
// Control: GET /sandbox/invoices lists everything (JSON); POST
// /sandbox/deliver[?serial=] issues and calls back now.
package einvoice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/einvoice/nuonuo"
)

// Config configures a Server.
type Config struct {
	AppKey, AppSecret, AccessToken string
	// Delay before an accepted invoice is issued and called back; 0: 300 ms;
	// negative: only on Deliver.
	Delay time.Duration
	// RetrySchedule is the wait before each further callback attempt; nil:
	// 2 s, 10 s, 1 min, 5 min.
	RetrySchedule []time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
	HTTP          *http.Client
}

// Invoice is one invoice the sandbox holds.
type Invoice struct {
	Serial      string          `json:"serial"`
	OrderNo     string          `json:"order_no"`
	Red         bool            `json:"red"`
	BlueSerial  string          `json:"blue_serial,omitempty"`
	SellerTaxNo string          `json:"seller_tax_no"`
	BuyerName   string          `json:"buyer_name"`
	BuyerTaxNo  string          `json:"buyer_tax_no,omitempty"`
	Details     []nuonuo.Detail `json:"details"`
	TotalFen    int64           `json:"total_fen"`
	TaxFen      int64           `json:"tax_fen"`
	Status      string          `json:"status"` // "20" issuing, "2" issued
	Number      string          `json:"number,omitempty"`
	PDFURL      string          `json:"pdf_url,omitempty"`
	CallbackURL string          `json:"callback_url"`
	Callbacks   int             `json:"callbacks"` // attempts made
	Delivered   bool            `json:"delivered"` // the receiver acknowledged
	Reversed    bool            `json:"reversed"`  // a blue invoice with a red one
	IssuedAt    string          `json:"issued_at,omitempty"`
}

// Server is the sandbox.
type Server struct {
	cfg     Config
	baseURL string

	mu       sync.Mutex
	bySerial map[string]*Invoice
	byOrder  map[string]string // orderNo → serial
	seq      int
	issued   int
}

// New is a sandbox.
func New(cfg Config) *Server {
	if cfg.Delay == 0 {
		cfg.Delay = 300 * time.Millisecond
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = []time.Duration{2 * time.Second, 10 * time.Second, time.Minute, 5 * time.Minute}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	return &Server{cfg: cfg, bySerial: map[string]*Invoice{}, byOrder: map[string]string{}}
}

// SetBaseURL is where the sandbox is reached (PDF links).
func (s *Server) SetBaseURL(u string) { s.baseURL = strings.TrimRight(u, "/") }

// Handler serves the platform and the control routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /open/v1/services", s.services)
	mux.HandleFunc("GET /invoices/{file}", s.pdf)
	mux.HandleFunc("GET /sandbox/invoices", s.list)
	mux.HandleFunc("POST /sandbox/deliver", func(w http.ResponseWriter, r *http.Request) {
		n := s.Deliver(r.URL.Query().Get("serial"))
		writeJSON(w, map[string]int{"delivered": n})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func answer(w http.ResponseWriter, code, describe string, result any) {
	writeJSON(w, map[string]any{"code": code, "describe": describe, "result": result})
}

func (s *Server) services(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if err := nuonuo.Verify(s.cfg.AppKey, s.cfg.AppSecret, r.URL.Query(), r.Header.Get("X-Nuonuo-Sign"), body, s.cfg.Now()); err != nil {
		answer(w, "070314", "签名验证失败", nil)
		return
	}
	if r.Header.Get("accessToken") != s.cfg.AccessToken {
		answer(w, "070301", "accessToken无效", nil)
		return
	}
	switch r.Header.Get("method") {
	case nuonuo.MethodIssue:
		s.issue(w, r.Header.Get("userTax"), body)
	case nuonuo.MethodRed:
		s.red(w, r.Header.Get("userTax"), body)
	case nuonuo.MethodQuery:
		s.query(w, body)
	default:
		answer(w, "070302", "method不存在", nil)
	}
}

func parseFen(s string) (int64, bool) {
	f, err := domain.ParseYuan(strings.TrimPrefix(s, "-"))
	if err != nil {
		return 0, false
	}
	if strings.HasPrefix(s, "-") {
		f = -f
	}
	return f, true
}

func (s *Server) issue(w http.ResponseWriter, userTax string, body []byte) {
	var req nuonuo.BillingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		answer(w, "E9106", "报文格式错误", nil)
		return
	}
	o := req.Order
	if o.OrderNo == "" || o.BuyerName == "" || o.SalerTaxNum == "" || o.SalerTaxNum != userTax || len(o.InvoiceDetail) == 0 || o.CallBackURL == "" {
		answer(w, "E9106", "必填字段缺失或销方税号与userTax不符", nil)
		return
	}
	if o.BuyerTaxNum != "" && (len(o.BuyerTaxNum) < 15 || len(o.BuyerTaxNum) > 20) {
		answer(w, "E9106", "购方税号格式错误", nil)
		return
	}
	var total, tax int64
	for _, d := range o.InvoiceDetail {
		incl, ok1 := parseFen(d.TaxIncludedAmount)
		excl, ok2 := parseFen(d.TaxExcludedAmount)
		t, ok3 := parseFen(d.Tax)
		if !ok1 || !ok2 || !ok3 || incl != excl+t || len(d.GoodsCode) != 19 || d.GoodsName == "" {
			answer(w, "E9106", "明细金额或商品编码有误", nil)
			return
		}
		total, tax = total+incl, tax+t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if serial, ok := s.byOrder[o.OrderNo]; ok {
		answer(w, "E0000", "开票提交成功", nuonuo.BillingResult{InvoiceSerialNum: serial})
		return
	}
	inv := s.add(&Invoice{OrderNo: o.OrderNo, SellerTaxNo: o.SalerTaxNum, BuyerName: o.BuyerName, BuyerTaxNo: o.BuyerTaxNum,
		Details: o.InvoiceDetail, TotalFen: total, TaxFen: tax, CallbackURL: o.CallBackURL})
	answer(w, "E0000", "开票提交成功", nuonuo.BillingResult{InvoiceSerialNum: inv.Serial})
}

func (s *Server) red(w http.ResponseWriter, userTax string, body []byte) {
	var req nuonuo.RedRequest
	if err := json.Unmarshal(body, &req); err != nil || req.OrderNo == "" || req.CallBackURL == "" {
		answer(w, "E9106", "报文格式错误", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if serial, ok := s.byOrder[req.OrderNo]; ok {
		answer(w, "E0000", "冲红提交成功", nuonuo.BillingResult{InvoiceSerialNum: serial})
		return
	}
	blue := s.bySerial[req.InvoiceID]
	switch {
	case blue == nil || blue.Red || blue.SellerTaxNo != userTax || blue.Number != req.InvoiceNumber:
		answer(w, "E9106", "蓝字发票不存在", nil)
		return
	case blue.Status != "2":
		answer(w, "E9106", "蓝字发票未开具完成，不能冲红", nil)
		return
	case blue.Reversed:
		answer(w, "E9106", "该发票已冲红", nil)
		return
	}
	blue.Reversed = true
	var details []nuonuo.Detail
	for _, d := range blue.Details {
		d.TaxIncludedAmount, d.TaxExcludedAmount, d.Tax = "-"+d.TaxIncludedAmount, "-"+d.TaxExcludedAmount, "-"+d.Tax
		details = append(details, d)
	}
	inv := s.add(&Invoice{OrderNo: req.OrderNo, Red: true, BlueSerial: blue.Serial, SellerTaxNo: blue.SellerTaxNo, BuyerName: blue.BuyerName,
		BuyerTaxNo: blue.BuyerTaxNo, Details: details, TotalFen: -blue.TotalFen, TaxFen: -blue.TaxFen, CallbackURL: req.CallBackURL})
	answer(w, "E0000", "冲红提交成功", nuonuo.BillingResult{InvoiceSerialNum: inv.Serial})
}

// add stores inv (s.mu held) and schedules its issue.
func (s *Server) add(inv *Invoice) *Invoice {
	s.seq++
	inv.Serial = fmt.Sprintf("%s%08d", s.cfg.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102150405"), s.seq)
	inv.Status = "20"
	s.bySerial[inv.Serial] = inv
	s.byOrder[inv.OrderNo] = inv.Serial
	if s.cfg.Delay > 0 {
		serial := inv.Serial
		time.AfterFunc(s.cfg.Delay, func() { s.deliver(serial, 0) })
	}
	return inv
}

func (s *Server) query(w http.ResponseWriter, body []byte) {
	var req nuonuo.QueryRequest
	if err := json.Unmarshal(body, &req); err != nil {
		answer(w, "E9106", "报文格式错误", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []nuonuo.InvoiceResult{}
	for _, serial := range req.SerialNos {
		if inv := s.bySerial[serial]; inv != nil {
			out = append(out, inv.result())
		}
	}
	answer(w, "E0000", "查询成功", out)
}

func (inv *Invoice) result() nuonuo.InvoiceResult {
	r := nuonuo.InvoiceResult{SerialNo: inv.Serial, OrderNo: inv.OrderNo, Status: inv.Status, InvoiceNo: inv.Number, PDFURL: inv.PDFURL, InvoiceType: "1"}
	if inv.Red {
		r.InvoiceType = "2"
	}
	if inv.Status == "2" {
		r.StatusMsg = "开票完成（最终状态）"
	} else {
		r.StatusMsg = "开票中"
	}
	return r
}

// Deliver issues and calls back now: one invoice (serial) or every one not
// yet acknowledged (""). It returns how many callbacks were acknowledged.
func (s *Server) Deliver(serial string) int {
	s.mu.Lock()
	var serials []string
	for k, inv := range s.bySerial {
		if (serial == "" || k == serial) && !inv.Delivered {
			serials = append(serials, k)
		}
	}
	s.mu.Unlock()
	sort.Strings(serials)
	n := 0
	for _, k := range serials {
		if s.deliver(k, -1) {
			n++
		}
	}
	return n
}

// deliver issues the invoice (if not yet) and calls back once; attempt ≥ 0
// schedules the next attempt on failure (attempt -1: a control call, once).
func (s *Server) deliver(serial string, attempt int) bool {
	s.mu.Lock()
	inv := s.bySerial[serial]
	if inv == nil || inv.Delivered {
		s.mu.Unlock()
		return false
	}
	if inv.Status != "2" {
		now := s.cfg.Now()
		inv.Status = "2"
		s.issued++
		// 数电票 numbers: 2-digit year, 2-digit region (31: Shanghai), 16 digits.
		inv.Number = fmt.Sprintf("%s31%016d", now.In(time.FixedZone("CST", 8*3600)).Format("06"), s.issued)
		inv.PDFURL = s.baseURL + "/invoices/" + inv.Serial + ".pdf"
		inv.IssuedAt = now.Format(time.RFC3339)
	}
	inv.Callbacks++
	body, _ := json.Marshal(inv.result())
	target := inv.CallbackURL
	s.mu.Unlock()

	ok := s.post(target, body)
	s.mu.Lock()
	if ok {
		inv.Delivered = true
	}
	s.mu.Unlock()
	s.cfg.Logger.Info("callback", "serial", serial, "ok", ok)
	if !ok && attempt >= 0 && attempt < len(s.cfg.RetrySchedule) {
		time.AfterFunc(s.cfg.RetrySchedule[attempt], func() { s.deliver(serial, attempt+1) })
	}
	return ok
}

// SignedCallback is the request the sandbox sends to url with body (tests
// forge and replay with it).
func (s *Server) SignedCallback(target string, body []byte, at time.Time) (*http.Request, error) {
	q, sign := nuonuo.SignedQuery(s.cfg.AppKey, s.cfg.AppSecret, body, at)
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	req.Header.Set("X-Nuonuo-Sign", sign)
	return req, nil
}

func (s *Server) post(target string, body []byte) bool {
	req, err := s.SignedCallback(target, body, s.cfg.Now())
	if err != nil {
		return false
	}
	res, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var ack struct {
		Status string `json:"status"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&ack)
	return res.StatusCode == http.StatusOK && ack.Status == "0000"
}

// Invoices lists what the sandbox holds, oldest first.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invoice, 0, len(s.bySerial))
	for _, inv := range s.bySerial {
		out = append(out, *inv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Serial < out[j].Serial })
	return out
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Invoices()) }

func (s *Server) pdf(w http.ResponseWriter, r *http.Request) {
	serial := strings.TrimSuffix(r.PathValue("file"), ".pdf")
	s.mu.Lock()
	inv, ok := s.bySerial[serial]
	var c Invoice
	if ok {
		c = *inv
	}
	s.mu.Unlock()
	if !ok || c.Status != "2" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	_, _ = w.Write(PDF(c))
}

// PDF is a one-page PDF of the invoice (ASCII text: a sandbox stand-in for
// the platform's signed 版式文件).
func PDF(inv Invoice) []byte {
	kind := "BLUE"
	if inv.Red {
		kind = "RED (reversal of " + inv.BlueSerial + ")"
	}
	lines := []string{
		"E-INVOICE (SANDBOX) - " + kind,
		"Number: " + inv.Number,
		"Serial: " + inv.Serial + "   Order: " + inv.OrderNo,
		"Seller tax no: " + inv.SellerTaxNo,
		"Buyer tax no: " + inv.BuyerTaxNo,
		"Total incl. tax: " + domain.FormatYuan(abs(inv.TotalFen)) + sign(inv.TotalFen) + "   Tax: " + domain.FormatYuan(abs(inv.TaxFen)) + sign(inv.TaxFen),
		"Issued: " + inv.IssuedAt,
	}
	for i, d := range inv.Details {
		lines = append(lines, fmt.Sprintf("Line %d: code %s rate %s incl %s excl %s tax %s", i+1, d.GoodsCode, d.TaxRate, d.TaxIncludedAmount, d.TaxExcludedAmount, d.Tax))
	}
	var content bytes.Buffer
	content.WriteString("BT /F1 11 Tf 50 780 Td 16 TL\n")
	for _, l := range lines {
		esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(asciiOnly(l))
		fmt.Fprintf(&content, "(%s) Tj T*\n", esc)
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func sign(n int64) string {
	if n < 0 {
		return " (negative)"
	}
	return ""
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
