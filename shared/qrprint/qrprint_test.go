package qrprint

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/qrscan"
)

const codeURL = "https://pay.example.com/c/Yq3v9Jk2LmN8pQr5StU7wXz1AbC4dEf6"

var label = Label{Community: "阳光花园", Company: "示范物业管理有限公司"}

// decodeQR reads a QR code from an image as a phone would (gozxing is a port
// of ZXing, the decoder many scanning apps use).
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	text, err := qrscan.Read(img)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return text
}

type chunk struct {
	typ  string
	data []byte
}

func chunks(t *testing.T, p []byte) []chunk {
	t.Helper()
	if !bytes.HasPrefix(p, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("not a PNG")
	}
	var out []chunk
	for i := 8; i < len(p); {
		n := int(binary.BigEndian.Uint32(p[i:]))
		typ, data := string(p[i+4:i+8]), p[i+8:i+8+n]
		if crc := binary.BigEndian.Uint32(p[i+8+n:]); crc != crc32.ChecksumIEEE(p[i+4:i+8+n]) {
			t.Fatalf("chunk %s: bad CRC", typ)
		}
		out = append(out, chunk{typ, data})
		i += 12 + n
	}
	return out
}

func TestPNGIsPrintQualityAndDecodesToTheURL(t *testing.T) {
	p, err := PNG(codeURL, label)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, img); got != codeURL {
		t.Fatalf("decoded %q, want %q", got, codeURL)
	}

	// Size: at least 1024 px wide, whole pixels per module, square symbol
	// area on top, caption under it.
	m, _ := encode(codeURL)
	side := len(m) + 2*QuietZone
	b := img.Bounds()
	if b.Dx() < MinPixels || b.Dx()%side != 0 {
		t.Fatalf("width %d: want >= %d and a multiple of %d modules", b.Dx(), MinPixels, side)
	}
	scale := b.Dx() / side
	if b.Dy() <= b.Dx() {
		t.Fatalf("height %d: no room for the caption under a %d px symbol", b.Dy(), b.Dx())
	}

	// 300 dpi: a pHYs chunk of 11811 px/m in metres, before the image data.
	var phys []byte
	for _, c := range chunks(t, p) {
		if c.typ == "IDAT" && phys == nil {
			t.Fatal("pHYs must come before IDAT")
		}
		if c.typ == "pHYs" {
			phys = c.data
		}
	}
	if len(phys) != 9 || binary.BigEndian.Uint32(phys) != 11811 || binary.BigEndian.Uint32(phys[4:]) != 11811 || phys[8] != 1 {
		t.Fatalf("pHYs = %v, want 11811 × 11811 per metre", phys)
	}

	// The quiet zone: 4 modules of white on every side of the symbol, and
	// the symbol starts right after it (the finder pattern's corner is dark).
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	q := QuietZone * scale
	for y := 0; y < b.Dx(); y++ {
		for x := 0; x < b.Dx(); x++ {
			inZone := x < q || y < q || x >= b.Dx()-q || y >= b.Dx()-q
			if inZone && dark(x, y) {
				t.Fatalf("dark pixel at (%d,%d) inside the %d px quiet zone", x, y, q)
			}
		}
	}
	if !dark(q, q) || !dark(b.Dx()-q-1, q) || !dark(q, b.Dx()-q-1) {
		t.Fatal("the finder patterns do not start at the quiet zone's edge")
	}

	// A caption is drawn under the quiet zone, within the side margins.
	var caption int
	for y := b.Dx(); y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if dark(x, y) {
				caption++
				if x < q || x >= b.Dx()-q {
					t.Fatalf("caption pixel at (%d,%d) in the side margin", x, y)
				}
			}
		}
	}
	if caption == 0 {
		t.Fatal("no caption under the code")
	}
}

func TestPNGCaptionFollowsTheLabel(t *testing.T) {
	bare, err := PNG(codeURL, Label{})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := png.Decode(bytes.NewReader(bare))
	if img.Bounds().Dx() != img.Bounds().Dy() {
		t.Fatalf("no label: want a square image, got %v", img.Bounds())
	}
	long := Label{Community: strings.Repeat("阳光花园", 12) + "二期", Company: label.Company}
	p, err := PNG(codeURL, long)
	if err != nil {
		t.Fatal(err)
	}
	img, _ = png.Decode(bytes.NewReader(p))
	if got := decodeQR(t, img); got != codeURL {
		t.Fatalf("long label: decoded %q", got)
	}
	// A name too long for one line at the smallest scale wraps, every line
	// within the width between the quiet zone margins.
	const avail = 1000
	lines := captionLines(long, avail)
	if len(lines) < 3 {
		t.Fatalf("want the long community name wrapped onto 2+ lines, then the company: %+v", lines)
	}
	var joined string
	for _, ln := range lines[:len(lines)-1] {
		joined += ln.text
		if ln.scale != minScale || ln.width*ln.scale > avail {
			t.Fatalf("line %q: scale %d width %d exceeds %d", ln.text, ln.scale, ln.width*ln.scale, avail)
		}
	}
	if joined != long.Community || lines[len(lines)-1].text != long.Company {
		t.Fatalf("wrapped lines lose text: %+v", lines)
	}
	if short := captionLines(label, avail); len(short) != 2 || short[0].scale != communityScale || short[1].scale != companyScale {
		t.Fatalf("short names keep their sizes: %+v", short)
	}
	// Different captions draw different pixels (the text is really drawn).
	a, _ := PNG(codeURL, Label{Community: "阳光花园"})
	b, _ := PNG(codeURL, Label{Community: "翠湖小区"})
	if bytes.Equal(a, b) {
		t.Fatal("two captions render the same image")
	}
}

func TestCaptionGlyphsExist(t *testing.T) {
	for _, s := range []string{"阳光花园", "翠湖小区", "未开通小区", "示范物业管理有限公司", "第二物业服务有限公司", "锦绣江南·三期（北区）A-12"} {
		for _, r := range s {
			if _, ok := face().GlyphAdvance(r); !ok {
				t.Errorf("no glyph for %q in %q", r, s)
			}
		}
	}
}

func TestEmptyURLIsRefused(t *testing.T) {
	if _, err := PNG("", label); !errors.Is(err, ErrURL) {
		t.Fatalf("PNG(\"\") = %v", err)
	}
	if _, err := SVG("", label); !errors.Is(err, ErrURL) {
		t.Fatalf("SVG(\"\") = %v", err)
	}
}

// svgDoc is the part of the SVG the tests read.
type svgDoc struct {
	ViewBox string `xml:"viewBox,attr"`
	Width   string `xml:"width,attr"`
	Rect    struct {
		Fill string `xml:"fill,attr"`
	} `xml:"rect"`
	Path struct {
		D string `xml:"d,attr"`
	} `xml:"path"`
	Texts []string `xml:"g>text"`
}

var run = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// rasterize draws the SVG's module path at px per module.
func rasterize(t *testing.T, d string, side, px int) image.Image {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, side*px, side*px))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	all := run.FindAllStringSubmatch(d, -1)
	if len(all) == 0 || strings.Join(run.FindAllString(d, -1), "") != d {
		t.Fatalf("unexpected path data %.80q", d)
	}
	for _, m := range all {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if x < QuietZone || y < QuietZone || x+w > side-QuietZone || y >= side-QuietZone {
			t.Fatalf("module run %v inside the quiet zone", m[0])
		}
		draw.Draw(img, image.Rect(x*px, y*px, (x+w)*px, (y+1)*px), image.NewUniform(color.Black), image.Point{}, draw.Src)
	}
	return img
}

func TestSVGHasVectorModulesAndTheCaptionAsText(t *testing.T) {
	l := Label{Community: "阳光<花园>", Company: "示范物业 & 管理"}
	s, err := SVG(codeURL, l)
	if err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	if err := xml.Unmarshal(s, &doc); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	m, _ := encode(codeURL)
	side := len(m) + 2*QuietZone
	if !strings.HasPrefix(doc.ViewBox, fmt.Sprintf("0 0 %d ", side)) || doc.Width != "70mm" {
		t.Fatalf("viewBox %q width %q", doc.ViewBox, doc.Width)
	}
	if doc.Rect.Fill != "#fff" {
		t.Fatal("no white background: the quiet zone would take the paper's colour")
	}
	if got := decodeQR(t, rasterize(t, doc.Path.D, side, 8)); got != codeURL {
		t.Fatalf("decoded %q", got)
	}
	if len(doc.Texts) != 2 || doc.Texts[0] != l.Community || doc.Texts[1] != l.Company {
		t.Fatalf("caption texts %q", doc.Texts)
	}
	if !bytes.Contains(s, []byte("阳光&lt;花园&gt;")) {
		t.Fatal("names are not escaped")
	}
}

func TestSymbolIsInlineSVGOnly(t *testing.T) {
	h, err := Symbol(codeURL, "qr")
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	if !strings.HasPrefix(s, "<svg ") || strings.Contains(s, "<?xml") || !strings.Contains(s, `class="qr"`) {
		t.Fatalf("symbol %.120q", s)
	}
	if _, err := Symbol(codeURL, `x" onload="alert(1)`); err == nil {
		t.Fatal("a class that is not an identifier must be refused")
	}
}

func TestCodeURL(t *testing.T) {
	for _, base := range []string{"https://pay.example.com", "https://pay.example.com/"} {
		if got := CodeURL(base, "abc_DEF-123"); got != "https://pay.example.com/c/abc_DEF-123" {
			t.Errorf("CodeURL(%q) = %q", base, got)
		}
	}
}
