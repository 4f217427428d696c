package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/estatepay/estatepay/shared/domain"
)

//go:embed pages/*.html
var pageFS embed.FS

// pages are parsed on first use, not at package initialisation: every
// function imports this package, and only the landing function renders.
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.ParseFS(pageFS, "pages/*.html"))
})

// cspFor returns page name's Content-Security-Policy, computed once per page
// from its first rendering: executing templates links in reflection that
// defeats the linker's dead-code elimination, which would add ~4 MB to every
// function importing this package, rendering or not; and rendering every page
// for one policy made the landing function's first request render three.
func cspFor(name string, rendered []byte) string {
	if v, ok := cspByPage.Load(name); ok {
		return v.(string)
	}
	v := contentSecurityPolicy(name, rendered)
	cspByPage.Store(name, v)
	return v
}

var cspByPage sync.Map // page name -> policy

var inlineScript = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?s)<script>(.*?)</script>`) })

// contentSecurityPolicy keeps everything on our own origin and allows exactly
// the page's own inline scripts, by hash (no 'unsafe-inline' for scripts). The
// scripts are static text (checked here in every page's source: no template
// actions inside), so their rendered form (html/template drops JS comments) is
// the same for any data: they are hashed from this rendering of the page.
func contentSecurityPolicy(name string, rendered []byte) string {
	for _, t := range pages().Templates() {
		src, err := fs.ReadFile(pageFS, "pages/"+t.Name())
		if err != nil {
			continue // a template defined inside a file, not a file
		}
		for _, m := range inlineScript().FindAllSubmatch(src, -1) {
			if bytes.Contains(m[1], []byte("{{")) {
				panic(fmt.Sprintf("web: %s: an inline script with a template action cannot be hashed for the CSP", t.Name()))
			}
		}
	}
	var hashes []string
	for _, m := range inlineScript().FindAllSubmatch(rendered, -1) {
		sum := sha256.Sum256(m[1])
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return "default-src 'self'; script-src 'self' " + strings.Join(hashes, " ") +
		"; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
}

// Prepare parses the pages and renders each once with empty data, which is
// when html/template analyses (escapes) a template and when its CSP is
// computed: about 1 ms of CPU that the first request would otherwise spend.
// The landing function starts it in the background at cold start, so the
// work overlaps the first request's directory reads.
func Prepare() {
	for _, p := range []struct {
		name string
		data any
	}{{"pay.html", PayPage{}}, {"message.html", MessagePage{}}, {"result.html", ResultPage{}}, {"notice.html", NoticePage{}}, {"history.html", HistoryPage{}}} {
		var buf bytes.Buffer
		if err := pages().ExecuteTemplate(&buf, p.name, p.data); err == nil {
			cspFor(p.name, buf.Bytes())
		}
	}
}

// MessagePage is a page with one message and no form (C3).
type MessagePage struct {
	Title, Community, Message string
}

// PayPage is the amount form (C4) with the payer fields (M5).
type PayPage struct {
	Title, Community, Company string
	Token, Channel            string
	MaxFen                    int64
	Fields                    []domain.PayerField // the code's payer fields, in order
	// A business manager's code (M3, M4): whom the customer pays (收款人),
	// the code's name, and the field values it presets — shown filled in
	// and locked (the server records them whatever is sent).
	Payee, CodeName string
	Preset          map[string]string
	// Dyn is the minute token of a screen code (F7, shared/dyncode), sent
	// back with the order.
	Dyn string
	// 分付 (F5): offered from 10.00 yuan (Fenfu), at any amount on the
	// payer's first payment of the day (FenfuAlways); WeChat JSAPI only.
	Fenfu, FenfuAlways bool
}

// ResultPage is the receipt of one order: what was paid, to whom, when and how.
// A pending order's page polls until it is paid or closed.
type ResultPage struct {
	Title, Community, Company string
	Back                      string // where 完成 leads: the code's or the notice's page; Back+"/history" is 我的缴费记录
	OrderID                   string
	House                     string        // a notice payment's house
	Items                     []ReceiptItem // a notice payment's bills
	Note                      string        // e.g. why the money went back
	Amount                    string        // yuan, "12.34"
	ChannelName               string        // 微信支付 / 支付宝
	State                     string        // paid | closed | pending
	StatusText                string
	PaidAt                    string // Asia/Shanghai, "2026-11-29 10:00:05"; empty until paid
	Fields                    []ReceiptField
	// E-invoices (issue 13, invoice.go): the payment's invoices, or the
	// 申请开票 link when the company offers one and none was asked for.
	Invoices    []ReceiptInvoice
	InvoiceLink string
}

// HistoryPage is 我的缴费记录 (X4): the identified payer's payments in one
// community, newest first.
type HistoryPage struct {
	Title, Community, Company string
	Back                      string // the code's or the notice's page
	Rows                      []HistoryRow
	More                      string // the next page, "" at the end
}

// HistoryRow is one payment in the history.
type HistoryRow struct {
	Amount, PaidAt, House string
	State, StatusText     string // paid | partial | refunded | closed
	Link                  string // its receipt
}

// ReceiptItem is one bill a notice payment paid.
type ReceiptItem struct{ Label, Amount string }

// NoticePage is a payment notice as its payer sees it (C6): the items, what
// is left to pay (only that), and the pay button of the scanning app.
type NoticePage struct {
	Title, Community, Company string
	NoticeID, House, Owner    string
	DueDate                   string
	Channel                   string // wechat | alipay: the app that scanned
	Items                     []NoticeItem
	OpenFen                   int64
	Open                      string // yuan
	Settled                   bool   // 已缴清: no amount to pay
	Paying                    bool   // 正在支付: someone's payment holds what is left
	// RemindBindURL is 微信接收缴费提醒 (in WeChat, with reminders by
	// official-account message on; "" not offered); RemindBound: the house
	// has a WeChat bound (已开启微信提醒).
	RemindBindURL  string
	RemindBound    bool
	RemindUnsubURL string // the house's 退订 link, shown with 已开启微信提醒
}

// NoticeItem is one line of a notice.
type NoticeItem struct {
	FeeItem, Period, Amount string
	State                   string // open | paying | paid | waived
	StateText               string
}

// ReceiptField is one payer field as the receipt shows it.
type ReceiptField struct{ Label, Value string }

// Render renders a page; name is "message.html", "pay.html" or "result.html". The
// response carries the Content-Security-Policy.
func Render(status int, name string, data any) Response {
	var buf bytes.Buffer
	if err := pages().ExecuteTemplate(&buf, name, data); err != nil {
		return Error(http.StatusInternalServerError, "internal", "page rendering failed")
	}
	r := respond(status, "text/html; charset=utf-8", buf.String())
	r.Headers["Content-Security-Policy"] = cspFor(name, buf.Bytes())
	return r
}
