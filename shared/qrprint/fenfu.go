package qrprint

import (
	"bytes"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// The 分付 style (F5, F7; seed 002's 二维码样式规范): the code of a merchant
// that accepts 分付 carries the blue 「分」 mark at its top right and a small
// grey payment note under it. The mark never enters the quiet zone: it sits
// in a band above the symbol, its right edge on the symbol's right edge.
const (
	// FenfuBlue is the mark's colour.
	FenfuBlue = "#1677ff"
	// NoteGrey is the payment note's colour.
	NoteGrey = "#8c8c8c"
	// FenfuMark is the mark's character.
	FenfuMark = "分"
	// FenfuNote is the payment note (支付说明) of a 分付 merchant's code.
	FenfuNote = "支持微信分付，费用与还款以微信支付页面为准"
)

var (
	blue = color.RGBA{0x16, 0x77, 0xff, 0xff}
	grey = color.RGBA{0x8c, 0x8c, 0x8c, 0xff}
)

// Palette indexes of the PNG.
const (
	idxWhite = 0
	idxBlack = 1
	idxBlue  = 2
	idxGrey  = 3
)

// markModules is the side of the mark in modules; the band above the
// symbol's quiet zone is a quiet zone's width of white, then the mark.
const (
	markModules = 6
	bandModules = QuietZone + markModules
)

// fenfuPNG is PNG with the 分付 style: the band with the mark above the
// symbol and the grey note (at the font's own size, 1 mm at 300 dpi — under
// 8号's 1.76 mm, as the seed asks) under the caption.
func fenfuPNG(m matrix, l Label) ([]byte, error) {
	n := len(m)
	side := n + 2*QuietZone
	scale := (MinPixels + side - 1) / side
	width := side * scale
	margin := QuietZone * scale
	band := bandModules * scale
	top := margin // the band starts where the quiet zone would

	lines := captionLines(l, width-2*margin)
	noteScale := 1
	notes := wrap(FenfuNote, (width-2*margin)/noteScale)
	height := band + width
	for _, ln := range lines {
		height += ln.gap + glyphLine*ln.scale
	}
	height += glyphLine * noteScale / 2
	height += len(notes) * glyphLine * noteScale
	height += margin

	pal := color.Palette{color.White, color.Black, blue, grey}
	img := image.NewPaletted(image.Rect(0, 0, width, height), pal)
	// The mark: a blue square, the character in white inside it.
	markSide := markModules * scale
	mx, my := margin+n*scale-markSide, top
	fillIdx(img, mx, my, markSide, markSide, idxBlue)
	glyph := line{text: FenfuMark, width: textWidth(FenfuMark)}
	gs := markSide * 3 / 4 / glyphLine
	if gs < 1 {
		gs = 1
	}
	glyph.scale = gs
	drawLineIdx(img, glyph, mx+(markSide-glyph.width*gs)/2, my+(markSide-glyphLine*gs)/2+gs, idxWhite)

	y0 := band // the symbol's image (with its quiet zone) starts under the band
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fillIdx(img, margin+x*scale, y0+margin+y*scale, scale, scale, idxBlack)
			}
		}
	}
	y := y0 + width
	for _, ln := range lines {
		y += ln.gap
		drawLineIdx(img, ln, (width-ln.width*ln.scale)/2, y, idxBlack)
		y += glyphLine * ln.scale
	}
	y += glyphLine * noteScale / 2
	for _, s := range notes {
		ln := line{text: s, width: textWidth(s), scale: noteScale}
		drawLineIdx(img, ln, (width-ln.width)/2, y, idxGrey)
		y += glyphLine * noteScale
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qrprint: png: %w", err)
	}
	return withPHYs(buf.Bytes(), PixelsPerMeter)
}

func fillIdx(img *image.Paletted, x0, y0, w, h int, idx uint8) {
	for y := y0; y < y0+h; y++ {
		row := img.Pix[y*img.Stride:]
		for x := x0; x < x0+w; x++ {
			row[x] = idx
		}
	}
}

func drawLineIdx(img *image.Paletted, ln line, x, y int, idx uint8) {
	small := image.NewAlpha(image.Rect(0, 0, ln.width, glyphLine))
	d := font.Drawer{Dst: small, Src: image.Opaque, Face: face(), Dot: fixed.P(0, glyphAscent)}
	d.DrawString(ln.text)
	for sy := 0; sy < glyphLine; sy++ {
		for sx := 0; sx < ln.width; sx++ {
			if small.AlphaAt(sx, sy).A >= 0x80 {
				fillIdx(img, x+sx*ln.scale, y+sy*ln.scale, ln.scale, ln.scale, idx)
			}
		}
	}
}

// markSVG is the mark as SVG elements at (x, y), side s user units.
func markSVG(b *bytes.Buffer, x, y, s float64) {
	fmt.Fprintf(b, `<g class="fenfu-mark" aria-label="支持分付"><rect x="%s" y="%s" width="%s" height="%s" rx="%s" fill="%s"/>`,
		num(x), num(y), num(s), num(s), num(s/6), FenfuBlue)
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="%s" font-family="%s" font-weight="bold" fill="#fff" text-anchor="middle">%s</text></g>`,
		num(x+s/2), num(y+s*0.78), num(s*0.72), fontFamily, FenfuMark)
}

// Style is how a code is drawn beyond its modules.
type Style struct {
	// Fenfu: the merchant accepts 分付 (store.Interface.OffersFenfu): the
	// blue 「分」 mark at the top right, and the grey note where the form
	// has room for text.
	Fenfu bool
}

// StyledSymbol is Symbol with s: for a 分付 merchant a band above the symbol
// carries the mark at the top right (the note is the page's to write: it is
// FenfuNote in NoteGrey, small).
func StyledSymbol(url, class string, s Style) (template.HTML, error) {
	if !s.Fenfu {
		return Symbol(url, class)
	}
	m, err := encode(url)
	if err != nil {
		return "", err
	}
	if _, err := Symbol("x", class); err != nil { // the class check
		return "", err
	}
	n := len(m)
	side := n + 2*QuietZone
	band := bandModules
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="%s" role="img" aria-label="收款码（支持分付）">`, side, side+band, class)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, side, side+band)
	markSVG(&b, float64(QuietZone+n-markModules), QuietZone, markModules)
	fmt.Fprintf(&b, `<g transform="translate(0 %d)">`, band)
	writePath(&b, m)
	b.WriteString("</g></svg>")
	return template.HTML(b.String()), nil
}
