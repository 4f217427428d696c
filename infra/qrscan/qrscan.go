// Package qrscan reads QR codes from images as scanners do, for the tests
// that check what printed and downloaded codes say.
package qrscan

import (
	"errors"
	"image"
	"image/color"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
)

// Read reads the QR code in img as a scanner does (gozxing, a port of
// ZXing: locate the finder patterns, trying harder, then decode), and, when
// that fails, again with the image turned a quarter at a time — as a person
// turns the sheet — and then each turn once more binarised at mid-grey on a
// white margin, as a phone's camera sees a code on a screen. gozxing's
// locator misreads about 1 in 100 of the symbols go-qrcode draws in one
// orientation (measured: 5 of 400 notice codes, at any scale and padding;
// it estimates the symbol 2 modules too large from its finder patterns),
// and reads the same symbol turned; a screenshot of a code drawn at a
// fractional scale has grey module edges that its binariser can split the
// wrong way. A test that decodes a code must not fail on those, nor pass
// on a code that says something else: the text is what the caller compares.
func Read(img image.Image) (string, error) {
	var errs []error
	for _, sharp := range []bool{false, true} {
		turned := img
		for range 4 {
			candidate := turned
			if sharp {
				candidate = binarised(turned)
			}
			text, err := decodeQR(candidate)
			if err == nil {
				return text, nil
			}
			errs = append(errs, err)
			turned = quarterTurn(turned)
		}
	}
	return "", errors.Join(errs...)
}

// quarterTurn is img turned 90° clockwise.
func quarterTurn(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(b.Max.Y-1-y, x-b.Min.X, img.At(x, y))
		}
	}
	return out
}

// binarised is img in black and white at mid-grey, on a white margin of a
// tenth of its size (a quiet zone for a tightly cropped screenshot).
func binarised(img image.Image) image.Image {
	b := img.Bounds()
	m := max(b.Dx(), b.Dy())/10 + 1
	out := image.NewGray(image.Rect(0, 0, b.Dx()+2*m, b.Dy()+2*m))
	for i := range out.Pix {
		out.Pix[i] = 0xff
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if g := color.GrayModel.Convert(img.At(x, y)).(color.Gray); g.Y < 0x80 {
				out.SetGray(x-b.Min.X+m, y-b.Min.Y+m, color.Gray{})
			}
		}
	}
	return out
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
