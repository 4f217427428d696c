package qrscan

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/estatepay/estatepay/shared/qrprint"
)

// A notice code gozxing's locator misreads straight on (it sees 31 modules
// where there are 29) is read turned a quarter.
func TestReadsACodeTheLocatorMissesStraightOn(t *testing.T) {
	const url = "http://127.0.0.1:8080/n/QwDKUtaktdggbsGP_uadnQ"
	b, err := qrprint.NoticePNG(url)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeQR(img); err == nil {
		t.Log("the locator reads this code straight on now (a newer gozxing?): the turn is no longer needed for it")
	}
	if got, err := Read(img); err != nil || got != url {
		t.Fatalf("Read = %q, %v; want %s", got, err, url)
	}
}
