package wechatpay

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/pay"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func sha1Hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

// The gzip of billFixture, with hash_value the SHA1 of the un-gzipped
// file, un-gzips to exactly the file, which parses; every other download is
// refused with ErrBillIntegrity (a pay.ErrProvider) naming the cause.
func TestGunzipBill(t *testing.T) {
	plain := []byte(billFixture)
	zipped := gz(t, plain)
	got, err := gunzipBill(bytes.NewReader(zipped), strings.ToUpper(sha1Hex(plain)), maxBillGzipSize, maxBillSize)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("gunzip: %v\n%s", err, got)
	}
	if rows, sum, err := ParseTradeBill(got); err != nil || len(rows) != 3 || sum.SettleFen != 20084 {
		t.Fatalf("parse the un-gzipped bill: %d rows, %+v, %v", len(rows), sum, err)
	}

	tampered := []byte(strings.Replace(billFixture, "`200.00,`0.00,`0,", "`199.00,`0.00,`0,", 1))
	broken := append([]byte(nil), zipped...)
	broken[len(broken)-9] ^= 0xff // the last byte of the deflate stream: CRC mismatch or bad data
	big := bytes.Repeat([]byte("`0,"), 4096)
	for name, c := range map[string]struct {
		body           []byte
		hash           string
		maxGz, maxFile int64
		cause          string
	}{
		"corrupted hash_value":          {zipped, "0" + sha1Hex(plain)[1:], maxBillGzipSize, maxBillSize, "SHA1 of the un-gzipped bill"},
		"file changed after hashing":    {gz(t, tampered), sha1Hex(plain), maxBillGzipSize, maxBillSize, "SHA1 of the un-gzipped bill"},
		"hash of the gzip, not the CSV": {zipped, sha1Hex(zipped), maxBillGzipSize, maxBillSize, "SHA1 of the un-gzipped bill"},
		"plain file though GZIP asked":  {plain, sha1Hex(plain), maxBillGzipSize, maxBillSize, "not a gzip file"},
		"broken gzip":                   {broken, sha1Hex(plain), maxBillGzipSize, maxBillSize, "gzip"},
		"truncated gzip":                {zipped[:len(zipped)/2], sha1Hex(plain), maxBillGzipSize, maxBillSize, "broken gzip"},
		"gzip over its bound":           {zipped, sha1Hex(plain), int64(len(zipped)) - 1, maxBillSize, "the gzip is larger"},
		"un-gzipped over its bound":     {gz(t, big), sha1Hex(big), maxBillGzipSize, int64(len(big)) - 1, "un-gzipped bill is larger"},
	} {
		_, err := gunzipBill(bytes.NewReader(c.body), c.hash, c.maxGz, c.maxFile)
		if !errors.Is(err, ErrBillIntegrity) || !errors.Is(err, pay.ErrProvider) || !strings.Contains(err.Error(), c.cause) {
			t.Errorf("%s: %v, want ErrBillIntegrity saying %q", name, err, c.cause)
		}
	}
	// Exactly at the bounds is accepted.
	if _, err := gunzipBill(bytes.NewReader(gz(t, big)), sha1Hex(big), int64(len(gz(t, big))), int64(len(big))); err != nil {
		t.Fatalf("at the bounds: %v", err)
	}
}
