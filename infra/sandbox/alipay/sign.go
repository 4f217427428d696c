package alipay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"sort"
	"strings"
)

// signContent builds Alipay's string to sign: key=value pairs sorted by key and
// joined with '&', values raw (not URL-encoded). Keys in exclude are left out;
// when skipEmpty is set, empty values are left out too (Alipay does so for
// requests; for notifications it never sends empty values, and the
// smartwalle SDK's VerifySign includes them, so SignForm keeps them).
func signContent(values url.Values, skipEmpty bool, exclude ...string) []byte {
	keys := make([]string, 0, len(values))
	for k := range values {
		skip := false
		for _, e := range exclude {
			if k == e {
				skip = true
				break
			}
		}
		if !skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range values[k] {
			if skipEmpty && v == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return []byte(b.String())
}

func signRSA2(key *rsa.PrivateKey, content []byte) (string, error) {
	sum := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func verifyRSA2(pub *rsa.PublicKey, content []byte, sigB64 string) error {
	if pub == nil {
		return errors.New("no public key")
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// SignForm signs an async notification or sync-return form the way Alipay
// does: it sets sign_type=RSA2 and sign = RSA2 over every other parameter
// (sorted by key, sign and sign_type excluded, values raw). Use it to re-sign
// forged variants of a notification.
func SignForm(key *rsa.PrivateKey, form url.Values) error {
	form.Del("sign")
	form.Set("sign_type", "RSA2")
	sig, err := signRSA2(key, signContent(form, false, "sign", "sign_type"))
	if err != nil {
		return err
	}
	form.Set("sign", sig)
	return nil
}

// verifyRequest checks an app's request signature as the open platform does:
// over all parameters except sign (sign_type included), empty values skipped.
func verifyRequest(pub *rsa.PublicKey, form url.Values) error {
	return verifyRSA2(pub, signContent(form, true, "sign"), form.Get("sign"))
}
