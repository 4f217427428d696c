package qrprint

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"image"
	"strings"
	"sync"
)

// A notice's code is printed NoticeCodeMM wide, quiet zone included. Its
// URL (<base>/n/<22-character id>) makes a version 6–8 symbol at level H:
// 41–49 modules plus 8 of quiet zone, so a module is 0.7–0.8 mm on paper —
// twice what a phone camera resolves from 30 cm, and large enough that an
// ordinary laser or inkjet printer's dot gain does not merge modules (a
// dot-matrix printer's smeared ribbon dots do: the print page says so).
// The PNG carries at least NoticeCodeMM at 300 dpi (NoticeCodePixels),
// whole pixels per module, 1 bit per pixel: about 1 KB, so 200 notices fit in
// one Lambda response (6 MB) many times over.
const (
	NoticeCodeMM     = 40
	NoticeCodePixels = NoticeCodeMM * DPI * 10 / 254 // 472 px: 40 mm at 300 dpi
)

// NoticePNG draws the code of url for a notice: the symbol and its quiet
// zone only (the page writes the caption), at least NoticeCodePixels wide,
// 300 dpi declared.
func NoticePNG(url string) ([]byte, error) {
	m, err := encode(url)
	if err != nil {
		return nil, err
	}
	side := len(m) + 2*QuietZone
	scale := (NoticeCodePixels + side - 1) / side
	img := image.NewPaletted(image.Rect(0, 0, side*scale, side*scale), palette)
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fill(img, (QuietZone+x)*scale, (QuietZone+y)*scale, scale, scale)
			}
		}
	}
	return encodePNG(img)
}

// NoticeSheet is one printed notice (缴费通知单). Amounts are yuan as
// printed ("1,234.50" or "1234.50"); everything is escaped when rendered.
type NoticeSheet struct {
	ID, URL            string
	Company, Community string
	House, Owner       string
	Issued, DueDate    string
	Lines              []NoticeLine
	Total              string // every line but the waived ones
	Paid               string // "" when nothing is paid yet
	Remaining          string // what the code pays now (C6: only what remains)
	Settled            bool   // nothing left: 已缴清, no code, no amount to pay
	Paying             bool   // some line is held by a payment in progress
	ScanMessage        string // which apps scan it (C2/C3 words)
	// Heading replaces 缴费通知单 (催缴单: the arrears reminders' print
	// batch) and Urge the "pay before" line ("": the notice's own).
	Heading, Urge string
}

// NoticeLine is one bill on a notice.
type NoticeLine struct {
	FeeItem, Period, Amount string
	State                   string // 未缴, 正在支付, 已缴, 已减免
	Done                    bool   // paid or waived (printed muted)
}

// NoticePrint is the print page: one or more sheets, one per printed page.
type NoticePrint struct {
	Title  string
	Paper  Paper
	Sheets []NoticeSheet
	A4Link string // the same page on A4 and on A5
	A5Link string
	Back   string // the console page this was opened from
	Next   string // the next batch of a long listing ("" at its end)
	Note   string // a line about the batch (how many, which building)
}

// NoticesCSP is the print page's Content-Security-Policy: no script, its
// own inline style, the codes as data: images, nothing loaded.
const NoticesCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

//go:embed notices.html
var noticesSource string

var noticesTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("notices").Parse(noticesSource))
})

type sheetView struct {
	NoticeSheet
	Code template.URL // data:image/png;base64,…
	Last bool
}

// RenderNotices writes the print page: each sheet on its own A4 or A5
// page (print CSS @page, a page break between sheets) with the company,
// community, house, owner, the items, the totals, the due date, what
// remains and the code of the notice's pay URL as a PNG data URL.
func RenderNotices(p NoticePrint) ([]byte, error) {
	if p.Paper != A5 {
		p.Paper = A4
	}
	v := struct {
		NoticePrint
		PaperClass string
		Views      []sheetView
	}{NoticePrint: p, PaperClass: strings.ToLower(string(p.Paper))}
	for i, s := range p.Sheets {
		sv := sheetView{NoticeSheet: s, Last: i == len(p.Sheets)-1}
		if !s.Settled {
			b, err := NoticePNG(s.URL)
			if err != nil {
				return nil, err
			}
			sv.Code = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
		}
		v.Views = append(v.Views, sv)
	}
	var buf bytes.Buffer
	if err := noticesTemplate().Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("qrprint: notices: %w", err)
	}
	return buf.Bytes(), nil
}
