// Package qrprint makes a collection code printable (C5): a PNG at print
// resolution, an SVG with vector modules, and an A4/A5 poster page.
//
// Every form carries the same symbol: the code's URL encoded by
// github.com/skip2/go-qrcode at error correction level Q (25% of the symbol
// may be lost: posters get dirty and torn), surrounded by a quiet zone of 4
// modules that nothing else ever draws into.
//
// The PNG is at least MinPixels wide (1024 px: 87 mm at 300 dpi), says so in
// its pHYs chunk (11811 px/m = 300 dpi) and carries a caption with the
// community and company names under the quiet zone. Chinese needs glyphs
// that a fresh machine and the Lambda image do not have, so the caption is
// drawn with the Ark Pixel 12 px simplified Chinese bitmap font from
// github.com/hajimehoshi/bitmapfont/v3 (a Go module: the font ships inside the
// binary; Ark Pixel is OFL-1.1), scaled by whole pixels so it stays sharp. The
// SVG and the poster write the names as text, which the printing computer's
// own fonts render.
package qrprint

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

const (
	// Level is the error correction level of every code: Q (about 25%).
	Level = qrcode.High
	// QuietZone is the white margin around the symbol, in modules (ISO/IEC
	// 18004 asks for 4).
	QuietZone = 4
	// MinPixels is the smallest width of the PNG.
	MinPixels = 1024
	// DPI is the resolution the PNG declares.
	DPI = 300
	// PixelsPerMeter is DPI in the unit of the PNG pHYs chunk (300 / 0.0254).
	PixelsPerMeter = 11811
)

// Label is the caption under the code.
type Label struct {
	Community string // 小区 name, the first and larger line
	Company   string // property company, the second line
	// Fenfu draws the 分付 style (fenfu.go): the blue 「分」 mark at the top
	// right, above the symbol, and the grey payment note under the caption.
	Fenfu bool
}

// ErrURL is returned for an empty URL or one too long for a QR code.
var ErrURL = errors.New("qrprint: the code URL is empty or too long")

// matrix is the symbol without its quiet zone: true is a dark module.
type matrix [][]bool

func encode(url string) (matrix, error) {
	if url == "" || len(url) > 1024 {
		return nil, ErrURL
	}
	q, err := qrcode.New(url, Level)
	if err != nil {
		return nil, fmt.Errorf("qrprint: encode: %w", err)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// CodeURL is the URL a collection code encodes: the public base URL (the
// deployment's PUBLIC_BASE_URL) and /c/<token>.
func CodeURL(publicBaseURL, token string) string {
	return strings.TrimRight(publicBaseURL, "/") + "/c/" + url.PathEscape(token)
}
