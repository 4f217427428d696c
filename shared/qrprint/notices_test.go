package qrprint

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"html"
	"image"
	"image/png"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/image/draw"
)

const noticeURL = "https://pay.example.com/n/Yq3v9Jk2LmN8pQr5StU7wA"

// A long deployment URL (API Gateway's default domain) still prints at
// 40 mm and decodes; so does the code seen at a third of its resolution
// (a phone camera filling less of its frame).
func TestNoticePNGIsAtLeast40mmAndDecodes(t *testing.T) {
	for _, u := range []string{noticeURL, "https://abcdefghij.execute-api.ap-southeast-1.amazonaws.com/n/Yq3v9Jk2LmN8pQr5StU7wA"} {
		b, err := NoticePNG(u)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		w := img.Bounds().Dx()
		if w < NoticeCodePixels || w != img.Bounds().Dy() {
			t.Fatalf("%s: %dx%d px, want a square of at least %d (40 mm at 300 dpi)", u, w, img.Bounds().Dy(), NoticeCodePixels)
		}
		var dpi bool
		for _, c := range chunks(t, b) {
			dpi = dpi || (c.typ == "pHYs" && binary.BigEndian.Uint32(c.data) == PixelsPerMeter)
		}
		if !dpi {
			t.Errorf("%s: no 300 dpi pHYs", u)
		}
		if got := decodeQR(t, img); got != u {
			t.Fatalf("decoded %q, want %q", got, u)
		}
		small := image.NewGray(image.Rect(0, 0, w/3, w/3))
		draw.ApproxBiLinear.Scale(small, small.Bounds(), img, img.Bounds(), draw.Src, nil)
		if got := decodeQR(t, small); got != u {
			t.Fatalf("at a third: decoded %q", got)
		}
		if len(b) > 4096 {
			t.Errorf("%s: %d bytes, want a small 1-bit PNG", u, len(b))
		}
		t.Logf("%s: %d px, %d bytes", u, w, len(b))
	}
}

func sheet() NoticeSheet {
	return NoticeSheet{ID: "Yq3v9Jk2LmN8pQr5StU7wA", URL: noticeURL, Company: "示范物业", Community: "阳光花园", House: "3栋2单元1101",
		Owner: `<script>alert(1)</script>张三`, Issued: "2026-12-01", DueDate: "2026-12-31",
		Lines: []NoticeLine{{FeeItem: "物业费", Period: "2026-11", Amount: "300.00", State: "已缴", Done: true}, {FeeItem: "水费<b>", Period: "2026-11", Amount: "45.50", State: "未缴"}},
		Total: "345.50", Paid: "300.00", Remaining: "45.50", ScanMessage: "请使用微信或支付宝扫码"}
}

// imgRE finds the codes (html/template writes + in attributes as &#43;).
var imgRE = regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"`)

// Names are escaped; a partly paid notice asks only what remains, with its
// code; a settled one prints 已缴清, no code and no amount to pay; each
// sheet but the last breaks the page after it.
func TestRenderNotices(t *testing.T) {
	partly, settled := sheet(), sheet()
	settled.ID, settled.Settled, settled.Remaining, settled.Paid = "Settled0000000000000000", true, "0.00", "345.50"
	b, err := RenderNotices(NoticePrint{Title: "缴费通知单", Paper: A5, Sheets: []NoticeSheet{partly, settled}, A4Link: "?size=a4", A5Link: "?size=a5"})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Contains(page, "<script>") || strings.Contains(page, "水费<b>") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;张三") {
		t.Fatal("names are not escaped")
	}
	if !strings.Contains(page, "size: A5 portrait") || strings.Count(page, `class="sheet a5`) != 2 || strings.Count(page, " last\"") != 1 {
		t.Fatalf("paper or sheets: %s", page)
	}
	if !strings.Contains(page, "针式打印机") {
		t.Fatal("no dot-matrix warning")
	}
	parts := strings.Split(page, `data-notice="`)
	first, second := parts[1], parts[2]
	if !strings.Contains(first, "尚需缴纳") || !strings.Contains(first, "¥45.50") || strings.Contains(first, "¥345.50") || strings.Contains(first, "已缴清") {
		t.Fatalf("partly paid sheet: %s", first)
	}
	m := imgRE.FindAllStringSubmatch(page, -1)
	if len(m) != 1 || !strings.Contains(first, m[0][0]) {
		t.Fatalf("want one code, on the partly paid sheet: %d", len(m))
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[0][1]))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, img); got != noticeURL {
		t.Fatalf("the printed code decodes to %q", got)
	}
	if !strings.Contains(second, "已缴清") || strings.Contains(second, "¥") || strings.Contains(second, "<img") {
		t.Fatalf("settled sheet: %s", second)
	}
}
