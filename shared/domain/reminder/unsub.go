package reminder

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// The 退订 link a reminder carries: <PUBLIC_BASE_URL>/u/<house id>.<sig>,
// sig the first 16 bytes of HMAC-SHA256(key, "unsub\x00" company "\x00"
// house), base64url. The landing page reads the house by its id, takes the
// company from it and checks the signature, so the link names no company
// and cannot be made for another house without the key.

// MinUnsubKeyLen is the least key length (bytes).
const MinUnsubKeyLen = 32

func unsubSig(key []byte, companyID, houseID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("unsub\x00" + companyID + "\x00" + houseID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// UnsubToken is a house's 退订 token.
func UnsubToken(key []byte, companyID, houseID string) string {
	return houseID + "." + unsubSig(key, companyID, houseID)
}

// UnsubURL is the house's 退订 link.
func UnsubURL(base string, key []byte, companyID, houseID string) string {
	return strings.TrimRight(base, "/") + "/u/" + UnsubToken(key, companyID, houseID)
}

// ParseUnsub splits a token into the house id and the signature (ok false
// for anything not shaped like one).
func ParseUnsub(token string) (houseID, sig string, ok bool) {
	houseID, sig, ok = strings.Cut(token, ".")
	if !ok || houseID == "" || len(sig) != 22 || len(houseID) > 64 {
		return "", "", false
	}
	return houseID, sig, true
}

// VerifyUnsub checks sig for the house of companyID (constant time).
func VerifyUnsub(key []byte, companyID, houseID, sig string) bool {
	if len(key) < MinUnsubKeyLen {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(unsubSig(key, companyID, houseID)))
}
