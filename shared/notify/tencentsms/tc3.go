package tencentsms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Algorithm is Tencent Cloud API 3.0's signature method.
const Algorithm = "TC3-HMAC-SHA256"

// Credential is a Tencent Cloud API key pair (访问密钥), as the SMS secret
// holds it: {"secret_id": "AKID…", "secret_key": "…"}.
type Credential struct {
	SecretID  string `json:"secret_id"`
	SecretKey string `json:"secret_key"`
}

// Signed is what TC3-HMAC-SHA256 covers of one request.
type Signed struct {
	Method    string            // "POST"
	Path      string            // canonical URI, "/" for the API endpoints
	RawQuery  string            // canonical query string, "" for POST
	Headers   map[string]string // the signed headers: lower-case name -> value
	Payload   []byte            // the request body
	Service   string            // "sms"
	Timestamp int64             // X-TC-Timestamp, Unix seconds
}

// Date is the credential scope's date: the UTC day of the timestamp.
func (s Signed) Date() string { return time.Unix(s.Timestamp, 0).UTC().Format("2006-01-02") }

// Scope is the credential scope: <date>/<service>/tc3_request.
func (s Signed) Scope() string { return s.Date() + "/" + s.Service + "/tc3_request" }

// SignedHeaders is the sorted, ';'-joined list of the signed header names.
func (s Signed) SignedHeaders() string {
	names := make([]string, 0, len(s.Headers))
	for k := range s.Headers {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	return strings.Join(names, ";")
}

// CanonicalRequest is the request in TC3's canonical form: method, URI,
// query, the signed headers (names and values in lower case, trimmed, sorted
// by name, each line ending in \n), their names, the payload's SHA-256.
func (s Signed) CanonicalRequest() string {
	names := strings.Split(s.SignedHeaders(), ";")
	lower := make(map[string]string, len(s.Headers))
	for k, v := range s.Headers {
		lower[strings.ToLower(k)] = v
	}
	var hdr strings.Builder
	for _, n := range names {
		hdr.WriteString(n + ":" + strings.ToLower(strings.TrimSpace(lower[n])) + "\n")
	}
	return strings.Join([]string{s.Method, s.Path, s.RawQuery, hdr.String(), s.SignedHeaders(), sha256Hex(s.Payload)}, "\n")
}

// StringToSign is the algorithm, the timestamp, the scope and the hash of
// the canonical request, one per line.
func (s Signed) StringToSign() string {
	return Algorithm + "\n" + strconv.FormatInt(s.Timestamp, 10) + "\n" + s.Scope() + "\n" + sha256Hex([]byte(s.CanonicalRequest()))
}

// Signature is the request's signature with secretKey: HMAC-SHA256 of the
// string to sign under a key derived from "TC3"+secretKey, the date and the
// service, in lower-case hex.
func (s Signed) Signature(secretKey string) string {
	k := hmacSHA256([]byte("TC3"+secretKey), s.Date())
	k = hmacSHA256(k, s.Service)
	k = hmacSHA256(k, "tc3_request")
	return hex.EncodeToString(hmacSHA256(k, s.StringToSign()))
}

// Authorization is the Authorization header value for the request signed
// with cred.
func (s Signed) Authorization(cred Credential) string {
	return fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		Algorithm, cred.SecretID, s.Scope(), s.SignedHeaders(), s.Signature(cred.SecretKey))
}

// Authorization is a parsed TC3 Authorization header.
type Authorization struct {
	SecretID      string
	Date          string // the scope's date, 2006-01-02
	Service       string
	SignedHeaders []string // lower case, in the header's order
	Signature     string
}

// ParseAuthorization parses "TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
// SignedHeaders=<a;b>, Signature=<hex>".
func ParseAuthorization(v string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(v, Algorithm+" ")
	if !ok {
		return a, fmt.Errorf("not a %s authorization", Algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("malformed authorization field %q", part)
		}
		fields[k] = val
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 4 || cred[0] == "" || cred[3] != "tc3_request" {
		return a, fmt.Errorf("malformed credential scope")
	}
	if _, err := time.Parse("2006-01-02", cred[1]); err != nil {
		return a, fmt.Errorf("malformed credential date %q", cred[1])
	}
	a.SecretID, a.Date, a.Service = cred[0], cred[1], cred[2]
	if fields["SignedHeaders"] == "" {
		return a, fmt.Errorf("no signed headers")
	}
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.Signature = fields["Signature"]
	if len(a.Signature) != 64 {
		return a, fmt.Errorf("malformed signature")
	}
	if _, err := hex.DecodeString(a.Signature); err != nil {
		return a, fmt.Errorf("malformed signature")
	}
	return a, nil
}

// Verify reports whether sig is s's signature under secretKey (constant time).
func (s Signed) Verify(secretKey, sig string) bool {
	return hmac.Equal([]byte(s.Signature(secretKey)), []byte(strings.ToLower(sig)))
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
