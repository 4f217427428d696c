package e2e

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

// A payment notice printed from headless Chromium (issue 8, "Tests"): a
// house with bills and its notice seeded through the store; the demo admin
// opens the contract's print page, /admin/api/notices/{id}/print, prints it
// to PDF (a valid PDF holding the code as an image, one A4 page), and the
// code read back from the page as rendered for print (print media, A4
// width) is the notice's pay URL. Also the A5 print, and the console's
// notice pages at phone and desktop size (screenshots).
func TestNoticePrintsToPDFAndItsCodeReadsBack(t *testing.T) {
	b := consoleBrowser(t)
	s := stacktest.Start(t)
	h := stacktest.SeedHouse(t, s, stack.DemoCompanyID, "demo-both", "3", "2", "1101", "张三丰", 32000, 4550, 15000)
	n := stacktest.SeedNotice(t, s, h)
	wantURL := notice.NoticeURL(s.URLs.Gateway, n.ID)

	admin := account(t, s, "admin", false)
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, admin.Phone, admin.Password, "/admin/communities")

	// The console's pages: the community's notices and the notice (with the
	// printer warning beside its 打印 buttons).
	if st := open(t, tab, s.URLs.Gateway+"/admin/communities/demo-both/notices"); st != http.StatusOK {
		t.Fatalf("notices page: %d", st)
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "3栋2单元1101") || !strings.Contains(txt, "515.50") {
		t.Fatalf("notices page: %s", txt)
	}
	consoleShots(t, tab, "notices")
	if st := open(t, tab, s.URLs.Gateway+"/admin/notices/"+n.ID); st != http.StatusOK {
		t.Fatalf("notice page: %d", st)
	}
	if txt := bodyText(t, tab); !strings.Contains(txt, "针式打印机") || !strings.Contains(txt, "张三丰") || !strings.Contains(txt, "515.50") {
		t.Fatalf("notice page: %s", txt)
	}
	consoleShots(t, tab, "notice")

	// The contract's print page, printed to PDF.
	if st := open(t, tab, s.URLs.Gateway+"/admin/api/notices/"+n.ID+"/print"); st != http.StatusOK {
		t.Fatalf("print page: %d", st)
	}
	pdf := printPDF(t, tab)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("%%EOF")) {
		t.Fatalf("not a PDF: %.20q (%d bytes)", pdf, len(pdf))
	}
	if !regexp.MustCompile(`/Subtype\s*/Image`).Match(pdf) {
		t.Fatal("the PDF holds no image: the code is missing")
	}
	if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1)); pages != 1 {
		t.Fatalf("the PDF has %d pages, want the one notice on one page", pages)
	}
	// A4 (595 × 842 pt) from the page's @page rule.
	checkPaper(t, pdf, "A4", 595.3, 841.9)
	savePDF(t, pdf, "notice-a4.pdf")

	// The page as it prints (print media, A4's width at 96 px/in, 3 device
	// pixels per CSS pixel: ~290 dpi, about what the PDF carries), read
	// back from a screenshot of the rendered code.
	do(t, tab, "A4 width", chromedp.EmulateViewport(794, 1123, chromedp.EmulateScale(3)))
	emulateMedia(t, tab, "print")
	shot := run(t, tab, "screenshot of the printed code", chromedp.Screenshot(chromedp.CSS(".qr img")))
	if got, _ := decodeQR(t, shot); got != wantURL {
		t.Fatalf("the printed code reads %q, want %q", got, wantURL)
	}
	// Its printed size: 40 mm (151 CSS px at 96 px/in).
	w := run(t, tab, "code width", chromedp.Evaluate[float64](`document.querySelector(".qr img").getBoundingClientRect().width`))
	if w < 150 || w > 152 {
		t.Errorf("the code prints %.1f CSS px wide, want 151 (40 mm)", w)
	}
	if txt := bodyText(t, tab); strings.Contains(txt, "Ctrl+P") || !strings.Contains(txt, "缴费通知单") || !strings.Contains(txt, "¥515.50") {
		t.Fatalf("print media shows: %s", txt)
	}
	saveScreenshot(t, tab, t.TempDir(), "notice-print-a4.png")
	emulateMedia(t, tab, "")
	do(t, tab, "phone viewport", phoneViewport)
	if txt := bodyText(t, tab); !strings.Contains(txt, "针式打印机") {
		t.Fatalf("the print page's screen header has no printer warning: %s", txt)
	}
	screenshots(t, tab, "notice-print-screen")

	// A5: the same code, the page size from the page.
	if st := open(t, tab, s.URLs.Gateway+"/admin/notices/"+n.ID+"/print?size=a5"); st != http.StatusOK {
		t.Fatalf("A5 print page: %d", st)
	}
	pdf5 := printPDF(t, tab)
	checkPaper(t, pdf5, "A5", 419.5, 595.3)
	savePDF(t, pdf5, "notice-a5.pdf")
}

// printPDF prints the tab's page to PDF as a person would (the page's own
// @page size, backgrounds on).
func printPDF(t *testing.T, tab context.Context) []byte {
	t.Helper()
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	yes := true
	res, err := chromedp.Call(sctx, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes, PrintBackground: &yes})
	if err != nil {
		t.Fatalf("e2e: print to PDF: %v", err)
	}
	return res.Data
}

// emulateMedia renders the tab for media ("print"; "" for the screen again).
func emulateMedia(t *testing.T, tab context.Context, media string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(tab, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(sctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: media}); err != nil {
		t.Fatalf("e2e: emulate %q media: %v", media, err)
	}
}

// checkPaper checks the PDF's page size (points, within 1 pt).
func checkPaper(t *testing.T, pdf []byte, name string, w, h float64) {
	t.Helper()
	m := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`).FindSubmatch(pdf)
	if m == nil {
		t.Fatalf("the %s PDF has no MediaBox", name)
	}
	gw, _ := strconv.ParseFloat(string(m[1]), 64)
	gh, _ := strconv.ParseFloat(string(m[2]), 64)
	if math.Abs(gw-w) > 1 || math.Abs(gh-h) > 1 {
		t.Errorf("the %s PDF's page is %.1f × %.1f pt, want %.1f × %.1f", name, gw, gh, w, h)
	}
}

// savePDF keeps a PDF in $E2E_SCREENSHOT_DIR when set (to look at).
func savePDF(t *testing.T, pdf []byte, name string) {
	t.Helper()
	if dir := os.Getenv("E2E_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), pdf, 0o644); err != nil {
			t.Errorf("e2e: keep %s: %v", name, err)
		}
	}
}
