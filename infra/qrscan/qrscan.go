// Package qrscan reads QR codes from images as scanners do, for the tests
// that check what printed and downloaded codes say.
package qrscan

import (
	"errors"
	"image"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// Read reads the QR code in img as a scanner does (gozxing, a port of
// ZXing: locate the finder patterns, trying harder, then decode), and, when
// that fails, once more with the image turned a quarter — as a person turns
// the sheet. gozxing's locator misreads about 1 in 100 of the symbols
// go-qrcode draws in one orientation (measured: 5 of 400 notice codes, at
// any scale and padding; it estimates the symbol 2 modules too large from
// its finder patterns), and reads the same symbol turned. A test that
// decodes a printed code must not fail on that 1 in 100, nor pass on a code
// that says something else: the text is what the caller compares.
func Read(img image.Image) (string, error) {
	text, err := decodeQR(img)
	if err == nil {
		return text, nil
	}
	b := img.Bounds()
	turned := image.NewGray(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			turned.Set(b.Max.Y-1-y, x-b.Min.X, img.At(x, y))
		}
	}
	text, terr := decodeQR(turned)
	if terr != nil {
		return "", errors.Join(err, terr)
	}
	return text, nil
}

func decodeQR(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}
