package qrprint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode/utf8"

	"github.com/hajimehoshi/bitmapfont/v3"
	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// Caption sizes: the font's glyphs are 12 px wide (a CJK character) in a
// 16 px line; they are scaled by whole pixels. At 300 dpi a community name at
// ×5 is 5 mm per character, the company at ×3 is 3 mm.
const (
	communityScale = 5
	companyScale   = 3
	minScale       = 2
	glyphLine      = 16 // px, the font's line height (ascent 12 + descent 4)
	glyphAscent    = 12
)

var palette = color.Palette{color.White, color.Black}

// PNG draws the code of url at print resolution: at least MinPixels wide, a
// quiet zone of QuietZone modules, the label below it, 300 dpi declared. The
// image has two colours (1 bit per pixel), so it stays small.
func PNG(url string, l Label) ([]byte, error) {
	m, err := encode(url)
	if err != nil {
		return nil, err
	}
	if l.Fenfu {
		return fenfuPNG(m, l)
	}
	n := len(m)
	side := n + 2*QuietZone
	scale := (MinPixels + side - 1) / side // pixels per module
	width := side * scale
	margin := QuietZone * scale

	lines := captionLines(l, width-2*margin)
	height := width
	if len(lines) > 0 {
		for _, ln := range lines {
			height += ln.gap + glyphLine*ln.scale
		}
		height += margin // white space under the caption, as wide as the quiet zone
	}

	img := image.NewPaletted(image.Rect(0, 0, width, height), palette) // index 0: white
	for y, row := range m {
		for x, dark := range row {
			if dark {
				fill(img, margin+x*scale, margin+y*scale, scale, scale)
			}
		}
	}
	top := width // the caption starts under the bottom quiet zone
	for _, ln := range lines {
		top += ln.gap
		drawLine(img, ln, (width-ln.width*ln.scale)/2, top)
		top += glyphLine * ln.scale
	}

	return encodePNG(img)
}

// encodePNG writes img as a PNG declaring 300 dpi.
func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qrprint: png: %w", err)
	}
	return withPHYs(buf.Bytes(), PixelsPerMeter)
}

func fill(img *image.Paletted, x0, y0, w, h int) {
	for y := y0; y < y0+h; y++ {
		row := img.Pix[y*img.Stride:]
		for x := x0; x < x0+w; x++ {
			row[x] = 1
		}
	}
}

// line is one caption line: its text at the font's own size (width px) and
// the whole-pixel scale it is drawn at, gap px below what precedes it.
type line struct {
	text         string
	width, scale int
	gap          int
}

// captionLines lays out the label within avail px: each name at its scale,
// smaller when it is too wide, wrapped at the smallest scale when even that
// is too wide.
func captionLines(l Label, avail int) []line {
	var out []line
	add := func(text string, scale int) {
		text = strings.Join(strings.Fields(text), " ")
		if text == "" {
			return
		}
		w := textWidth(text)
		for scale > minScale && w*scale > avail {
			scale--
		}
		first := true
		for _, part := range wrap(text, avail/scale) {
			gap := glyphLine * scale / 4 // under the quiet zone, or between lines
			if first && len(out) > 0 {
				gap = glyphLine * scale / 2 // between the two names
			}
			first = false
			out = append(out, line{text: part, width: textWidth(part), scale: scale, gap: gap})
		}
	}
	add(l.Community, communityScale)
	add(l.Company, companyScale)
	return out
}

func face() font.Face { return bitmapfont.FaceSC }

func textWidth(s string) int { return font.MeasureString(face(), s).Ceil() }

// wrap breaks s into pieces at most max px wide (at the font's own size),
// between characters: Chinese has no spaces to break at.
func wrap(s string, max int) []string {
	var parts []string
	for s != "" {
		w, end := 0, 0
		for end < len(s) {
			r, size := utf8.DecodeRuneInString(s[end:])
			adv, _ := face().GlyphAdvance(r)
			if w+adv.Ceil() > max && end > 0 {
				break
			}
			w += adv.Ceil()
			end += size
		}
		parts = append(parts, strings.TrimSpace(s[:end]))
		s = strings.TrimSpace(s[end:])
	}
	return parts
}

// drawLine renders ln at the font's size, then copies it scaled by whole
// pixels to (x, y) on img.
func drawLine(img *image.Paletted, ln line, x, y int) {
	small := image.NewAlpha(image.Rect(0, 0, ln.width, glyphLine))
	d := font.Drawer{Dst: small, Src: image.Opaque, Face: face(), Dot: fixed.P(0, glyphAscent)}
	d.DrawString(ln.text)
	for sy := 0; sy < glyphLine; sy++ {
		for sx := 0; sx < ln.width; sx++ {
			if small.AlphaAt(sx, sy).A >= 0x80 {
				fill(img, x+sx*ln.scale, y+sy*ln.scale, ln.scale, ln.scale)
			}
		}
	}
}

// withPHYs inserts a pHYs chunk (pixels per metre, unit metre) right after
// IHDR: Go's encoder writes none, and print shops read it for the size.
func withPHYs(p []byte, ppm uint32) ([]byte, error) {
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, IHDR length, type, data, CRC
	if len(p) < ihdrEnd || string(p[12:16]) != "IHDR" {
		return nil, fmt.Errorf("qrprint: png: no IHDR")
	}
	chunk := make([]byte, 4+4+9+4)
	binary.BigEndian.PutUint32(chunk[0:], 9)
	copy(chunk[4:], "pHYs")
	binary.BigEndian.PutUint32(chunk[8:], ppm)
	binary.BigEndian.PutUint32(chunk[12:], ppm)
	chunk[16] = 1 // unit: metre
	binary.BigEndian.PutUint32(chunk[17:], crc32.ChecksumIEEE(chunk[4:17]))
	out := make([]byte, 0, len(p)+len(chunk))
	out = append(out, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...), nil
}
