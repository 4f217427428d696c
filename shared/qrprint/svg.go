package qrprint

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SVGWidthMM is the printed width of the SVG when nothing scales it: 70 mm,
// a code that reads from an arm's length.
const SVGWidthMM = 70

// fontFamily lists the CJK fonts a printing computer is likely to have.
const fontFamily = `'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei',sans-serif`

// SVG draws the code of url as a standalone SVG document: one path of
// vector modules (a module is one user unit), a white quiet zone of
// QuietZone modules, and the label as text under it.
func SVG(url string, l Label) ([]byte, error) {
	m, err := encode(url)
	if err != nil {
		return nil, err
	}
	side := len(m) + 2*QuietZone
	// The caption, in modules: the community at 3 modules per character, the
	// company at 2, smaller when a name is too long for the width.
	type text struct {
		s    string
		size float64
	}
	var lines []text
	avail := float64(side - 2*QuietZone)
	for _, t := range []text{{l.Community, 3}, {l.Company, 2}} {
		t.s = strings.Join(strings.Fields(t.s), " ")
		if t.s == "" {
			continue
		}
		if w := ems(t.s) * t.size; w > avail {
			t.size = avail / ems(t.s)
		}
		lines = append(lines, t)
	}
	band := 0 // the 分付 mark's band above the symbol
	if l.Fenfu {
		band = bandModules
	}
	height := float64(side + band)
	var caption bytes.Buffer
	for _, t := range lines {
		height += t.size * 1.4
		fmt.Fprintf(&caption, `<text x="%s" y="%s" font-size="%s" text-anchor="middle">`, num(float64(side)/2), num(height-t.size*0.3), num(t.size))
		_ = xml.EscapeText(&caption, []byte(t.s))
		caption.WriteString("</text>")
	}
	if l.Fenfu {
		size := 1.0 // modules: about 1.5 mm at 70 mm wide, under 8号 (5 pt, 1.76 mm)
		if w := ems(FenfuNote) * size; w > avail {
			size = avail / ems(FenfuNote)
		}
		height += size * 1.6
		fmt.Fprintf(&caption, `<text class="fenfu-note" x="%s" y="%s" font-size="%s" text-anchor="middle" fill="%s">`, num(float64(side)/2), num(height-size*0.3), num(size), NoteGrey)
		_ = xml.EscapeText(&caption, []byte(FenfuNote))
		caption.WriteString("</text>")
	}
	if len(lines) > 0 || l.Fenfu {
		height += QuietZone
	}

	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 %d %s" width="%smm" height="%smm">`,
		side, num(height), num(SVGWidthMM), num(SVGWidthMM*height/float64(side)))
	if l.Community != "" {
		b.WriteString("<title>")
		_ = xml.EscapeText(&b, []byte(strings.TrimSpace(l.Community+" "+l.Company)))
		b.WriteString("</title>")
	}
	fmt.Fprintf(&b, `<rect width="%d" height="%s" fill="#fff"/>`, side, num(height))
	if band > 0 {
		markSVG(&b, float64(QuietZone+len(m)-markModules), QuietZone, markModules)
		fmt.Fprintf(&b, `<g transform="translate(0 %d)">`, band)
	}
	writePath(&b, m)
	if band > 0 {
		b.WriteString("</g>")
	}
	if caption.Len() > 0 {
		fmt.Fprintf(&b, `<g font-family="%s" fill="#000">`, fontFamily)
		b.Write(caption.Bytes())
		b.WriteString("</g>")
	}
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

// Symbol is the code of url as an inline <svg> for an HTML page: modules
// and quiet zone only (the page writes the names), sized by the page's CSS
// through class. Everything in it is generated here (class is an identifier
// the caller chooses), so it is safe to put into a template as is.
func Symbol(url, class string) (template.HTML, error) {
	m, err := encode(url)
	if err != nil {
		return "", err
	}
	for _, r := range class {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "", fmt.Errorf("qrprint: class %q: use a-z, 0-9 and -", class)
		}
	}
	side := len(m) + 2*QuietZone
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="%s" role="img" aria-label="收款码">`, side, side, class)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, side, side)
	writePath(&b, m)
	b.WriteString("</svg>")
	return template.HTML(b.String()), nil
}

// writePath writes the dark modules as one path: a rectangle per run of
// dark modules in a row, offset by the quiet zone.
func writePath(b *bytes.Buffer, m matrix) {
	b.WriteString(`<path fill="#000" shape-rendering="crispEdges" d="`)
	for y, row := range m {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(b, "M%d %dh%dv1h-%dz", start+QuietZone, y+QuietZone, x-start, x-start)
		}
	}
	b.WriteString(`"/>`)
}

// ems estimates the width of s in em: a CJK or other wide character is 1
// em, anything narrower about 0.6.
func ems(s string) float64 {
	var w float64
	for _, r := range s {
		if r >= 0x1100 && utf8.RuneLen(r) >= 3 {
			w++
		} else {
			w += 0.6
		}
	}
	return w
}

func num(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }
