package wechat

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// authScheme is the only request signature scheme WeChat Pay API v3 accepts.
const authScheme = "WECHATPAY2-SHA256-RSA2048"

// signatureWindow is how far a signed timestamp may be from the wall clock.
const signatureWindow = 5 * time.Minute

// call is an authenticated merchant API request.
type call struct {
	merchant *Merchant
	body     []byte
}

type apiHandler func(w http.ResponseWriter, r *http.Request, c *call)

// merchantAPI verifies the merchant's request signature before calling h.
func (s *Server) merchantAPI(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "PARAM_ERROR", "读取请求失败")
			return
		}
		m, reason := s.verifyRequest(r, body)
		if m == nil {
			s.log.Warn("request signature rejected", "path", r.URL.Path, "reason", reason)
			s.writeError(w, http.StatusUnauthorized, "SIGN_ERROR", reason)
			return
		}
		h(w, r, &call{merchant: m, body: body})
	}
}

// parseAuthorization splits `WECHATPAY2-SHA256-RSA2048 k="v",k="v"`.
func parseAuthorization(h string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(h, authScheme+" ")
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, false
		}
		out[k] = strings.Trim(v, `"`)
	}
	return out, true
}

// verifyRequest checks the Authorization header; it returns the merchant or a
// reason for rejection.
func (s *Server) verifyRequest(r *http.Request, body []byte) (*Merchant, string) {
	a, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return nil, "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"
	}
	for _, k := range []string{"mchid", "nonce_str", "signature", "timestamp", "serial_no"} {
		if a[k] == "" {
			return nil, "Http头Authorization缺少" + k
		}
	}
	m := s.merchants[a["mchid"]]
	if m == nil {
		return nil, "商户号不存在"
	}
	if a["serial_no"] != m.SerialNo {
		return nil, "商户证书序列号有误。请使用签名私钥匹配的证书序列号"
	}
	ts, err := strconv.ParseInt(a["timestamp"], 10, 64)
	if err != nil {
		return nil, "Http头Authorization中timestamp格式错误"
	}
	if d := time.Since(time.Unix(ts, 0)); d > signatureWindow || d < -signatureWindow {
		return nil, "Http头Authorization中timestamp已过期，请检查服务器时间"
	}
	msg := fmt.Sprintf("%s\n%s\n%s\n%s\n%s\n", r.Method, r.URL.RequestURI(), a["timestamp"], a["nonce_str"], body)
	if !verifySHA256(m.PublicKey, msg, a["signature"]) {
		return nil, "错误的签名，验签失败"
	}
	return m, ""
}

func verifySHA256(pub *rsa.PublicKey, msg, sigB64 string) bool {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || pub == nil {
		return false
	}
	sum := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
}

func signSHA256(key *rsa.PrivateKey, msg string) (string, error) {
	sum := sha256.Sum256([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomNonce returns a 32-character alphanumeric nonce like WeChat's.
func randomNonce() string {
	const symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = symbols[int(b[i])%len(symbols)]
	}
	return string(b)
}

// platformHeaders signs body with the platform key at wall-clock time ts.
func (s *Server) platformHeaders(h http.Header, body []byte, ts time.Time, keyID string, key *rsa.PrivateKey) error {
	nonce := randomNonce()
	tsStr := strconv.FormatInt(ts.Unix(), 10)
	sig, err := signSHA256(key, tsStr+"\n"+nonce+"\n"+string(body)+"\n")
	if err != nil {
		return err
	}
	h.Set("Wechatpay-Serial", keyID)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Timestamp", tsStr)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature-Type", authScheme)
	return nil
}

// writeSigned writes a platform-signed response.
func (s *Server) writeSigned(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Request-ID", strings.ToUpper(randomHex(16)))
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if err := s.platformHeaders(h, body, time.Now(), s.cfg.PlatformKeyID, s.cfg.PlatformKey); err != nil {
		s.log.Error("sign response", "err", err)
		http.Error(w, "sign failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("marshal response", "err", err)
		http.Error(w, "marshal failed", http.StatusInternalServerError)
		return
	}
	s.writeSigned(w, status, "application/json; charset=utf-8", body)
}

// writeError writes WeChat's error shape {"code","message"}.
func (s *Server) writeError(w http.ResponseWriter, status int, code, message string) {
	s.writeJSON(w, status, map[string]string{"code": code, "message": message})
}
