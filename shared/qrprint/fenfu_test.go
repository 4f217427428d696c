package qrprint

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
)

func isBlue(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return b>>8 > 0xc0 && r>>8 < 0x40 && g>>8 > 0x50 && g>>8 < 0xa0
}

func isGrey(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return r == g && g == b && r>>8 > 0x60 && r>>8 < 0xb0
}

// count counts the pixels of rect for which f holds.
func count(img image.Image, rect image.Rectangle, f func(image.Image, int, int) bool) int {
	n := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			if f(img, x, y) {
				n++
			}
		}
	}
	return n
}

func decodePNG(t *testing.T, l Label) image.Image {
	t.Helper()
	p, err := PNG("https://pay.example.cn/c/abcdefghijklmnop", l)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestFenfuMarkPNG(t *testing.T) {
	l := Label{Community: "阳光花园", Company: "示例物业"}
	plain := decodePNG(t, l)
	b := plain.Bounds()
	if n := count(plain, b, isBlue); n != 0 {
		t.Fatalf("a merchant without 分付: %d blue pixels", n)
	}
	if n := count(plain, b, isGrey); n != 0 {
		t.Fatalf("a merchant without 分付: %d grey pixels", n)
	}

	l.Fenfu = true
	img := decodePNG(t, l)
	b = img.Bounds()
	w, h := b.Dx(), b.Dy()
	corner := image.Rect(w*3/4, 0, w, h/4) // the top-right corner
	if n := count(img, corner, isBlue); n < 2000 {
		t.Fatalf("the 「分」 mark: %d blue pixels in the top-right corner %v, want a filled mark", n, corner)
	}
	all := count(img, b, isBlue)
	if all != count(img, corner, isBlue) {
		t.Fatalf("blue outside the top-right corner: %d of %d", all-count(img, corner, isBlue), all)
	}
	// The character: white pixels inside the blue square.
	var minX, minY, maxX, maxY = w, h, 0, 0
	for y := corner.Min.Y; y < corner.Max.Y; y++ {
		for x := corner.Min.X; x < corner.Max.X; x++ {
			if isBlue(img, x, y) {
				minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
			}
		}
	}
	inside := image.Rect(minX, minY, maxX+1, maxY+1)
	white := count(img, inside, func(i image.Image, x, y int) bool {
		r, g, b, _ := i.At(x, y).RGBA()
		return r>>8 == 0xff && g>>8 == 0xff && b>>8 == 0xff
	})
	if white < inside.Dx()*inside.Dy()/20 {
		t.Fatalf("the mark has %d white pixels of %d: no 分 drawn in it", white, inside.Dx()*inside.Dy())
	}
	// The mark is above the symbol: the quiet zone left of the symbol, from
	// the mark's bottom down, stays white (and the left quarter of the top
	// has nothing at all).
	if n := count(img, image.Rect(0, 0, w/4, maxY+1), func(i image.Image, x, y int) bool { r, _, _, _ := i.At(x, y).RGBA(); return r>>8 != 0xff }); n != 0 {
		t.Fatalf("%d non-white pixels left of the mark's band", n)
	}
	// The grey note is at the bottom, under the caption.
	if n := count(img, image.Rect(0, h*3/4, w, h), isGrey); n < 100 {
		t.Fatalf("the payment note: %d grey pixels in the bottom quarter", n)
	}
	if n := count(img, image.Rect(0, 0, w, h*3/4), isGrey); n != 0 {
		t.Fatalf("grey above the bottom quarter: %d", n)
	}
}

func TestFenfuSVGAndPoster(t *testing.T) {
	url := "https://pay.example.cn/c/abcdefghijklmnop"
	for _, fenfu := range []bool{false, true} {
		svg, err := SVG(url, Label{Community: "阳光花园", Fenfu: fenfu})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(svg, []byte(FenfuBlue)) && bytes.Contains(svg, []byte(">分</text>")); got != fenfu {
			t.Errorf("SVG fenfu=%v: mark drawn %v", fenfu, got)
		}
		if got := bytes.Contains(svg, []byte(FenfuNote)) && bytes.Contains(svg, []byte(NoteGrey)); got != fenfu {
			t.Errorf("SVG fenfu=%v: note written %v", fenfu, got)
		}
		sym, err := StyledSymbol(url, "qr", Style{Fenfu: fenfu})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(sym), FenfuBlue); got != fenfu {
			t.Errorf("symbol fenfu=%v: mark %v", fenfu, got)
		}
		page, err := RenderPoster(Poster{Community: "阳光花园", URL: url, Fenfu: fenfu})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(page, []byte(FenfuBlue)) && bytes.Contains(page, []byte(FenfuNote)); got != fenfu {
			t.Errorf("poster fenfu=%v: mark and note %v", fenfu, got)
		}
	}
	if _, err := StyledSymbol(url, "Bad Class", Style{Fenfu: true}); err == nil {
		t.Error("a class with spaces was accepted")
	}
}

// TestFenfuQuietZone: the mark's band keeps the symbol's quiet zone whole:
// from the mark's bottom to the first dark module of the symbol there are
// at least QuietZone modules of white.
func TestFenfuQuietZone(t *testing.T) {
	img := decodePNG(t, Label{Fenfu: true})
	w := img.Bounds().Dx()
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r>>8 < 0x40 }
	markBottom, symTop := -1, -1
	for y := 0; y < img.Bounds().Dy() && symTop < 0; y++ {
		for x := 0; x < w; x++ {
			if isBlue(img, x, y) {
				markBottom = y
			}
			if dark(x, y) && !isBlue(img, x, y) {
				symTop = y
				break
			}
		}
	}
	m, _ := encode("https://pay.example.cn/c/abcdefghijklmnop")
	scale := w / (len(m) + 2*QuietZone)
	if markBottom < 0 || symTop-markBottom-1 < QuietZone*scale {
		t.Fatalf("mark ends at y=%d, symbol starts at y=%d: less than %d px of quiet zone", markBottom, symTop, QuietZone*scale)
	}
}
