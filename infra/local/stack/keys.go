package stack

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/estatepay/estatepay/shared/notify/tencentsms"
)

// Keys are the sandbox and demo-merchant keys, generated once and kept under
// .local/keys/ so restarts (and outside tools acting as a provider) use the same.
type Keys struct {
	WeChatPlatform *rsa.PrivateKey // WeChat Pay platform key (sandbox signs with it)
	WeChatMerchant *rsa.PrivateKey // demo merchant's API key (we sign requests with it)
	AlipayPlatform *rsa.PrivateKey // Alipay's key (sandbox signs with it)
	AlipayApp      *rsa.PrivateKey // demo app's key (we sign requests with it)
	APIv3Key       string          // 32 chars
	OAuthSecret    string          // demo official account's AppSecret
	PayerCookieKey string          // HMAC key of the WeChat payer cookie (64 hex chars), file payer-cookie-key
	DynCodeKey     string          // HMAC key of the screen codes' minute tokens (F7), file dyncode-key
	// TencentSMS is the sandbox's Tencent Cloud API key pair, file
	// tencent-sms-secret.json: the outbox verifies SendSms signatures with
	// it, the functions sign with it (TENCENT_SMS_SECRET_REF, file://…).
	TencentSMS tencentsms.Credential
}

// keyFiles is sandbox-secrets.json. Files written before the console's
// sessions also hold "admin_token" (the retired bearer token): it is ignored,
// and the other keys are kept.
type keyFiles struct {
	APIv3Key    string `json:"apiv3_key"`
	OAuthSecret string `json:"oauth_app_secret"`
}

// retiredAdminTokenFile held the admin bearer token the console's sessions
// replaced; a state directory from before them has it, and it is removed.
const retiredAdminTokenFile = "admin-token"

// PayerCookieKeyFile is the file under the keys directory holding the payer
// cookie's HMAC key; the functions read it through PAYER_COOKIE_KEY_REF
// (file://…), as they read a Secrets Manager secret in the cloud.
const PayerCookieKeyFile = "payer-cookie-key"

// DynCodeKeyFile holds the screen codes' minute-token key (F7), read
// through DYNCODE_KEY_REF like PayerCookieKeyFile.
const DynCodeKeyFile = "dyncode-key"

// TencentSMSSecretFile is the file under the keys directory holding the
// Tencent Cloud SMS API key pair as the SMS secret does in the cloud:
// {"secret_id","secret_key"}.
const TencentSMSSecretFile = "tencent-sms-secret.json"

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// LoadOrCreateKeys reads keys from dir, creating missing ones.
func LoadOrCreateKeys(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := &Keys{}
	var err error
	for _, f := range []struct {
		name string
		dst  **rsa.PrivateKey
	}{
		{"wechat-platform-private.pem", &k.WeChatPlatform},
		{"wechat-merchant-private.pem", &k.WeChatMerchant},
		{"alipay-platform-private.pem", &k.AlipayPlatform},
		{"alipay-app-private.pem", &k.AlipayApp},
	} {
		if *f.dst, err = loadOrCreateRSA(filepath.Join(dir, f.name)); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, "sandbox-secrets.json")
	var kf keyFiles
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &kf); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(kf.APIv3Key) != 32 || kf.OAuthSecret == "" {
		kf = keyFiles{APIv3Key: randomHex(16), OAuthSecret: randomHex(16)}
		if err := writeJSON(path, kf); err != nil {
			return nil, err
		}
	}
	k.APIv3Key, k.OAuthSecret = kf.APIv3Key, kf.OAuthSecret
	if err := os.Remove(filepath.Join(dir, retiredAdminTokenFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// The payer cookie key lives in its own file (like a secret of its own),
	// created once; restarts keep it so issued cookies stay valid.
	if k.PayerCookieKey, err = loadOrCreateSecret(filepath.Join(dir, PayerCookieKeyFile)); err != nil {
		return nil, err
	}
	if k.DynCodeKey, err = loadOrCreateSecret(filepath.Join(dir, DynCodeKeyFile)); err != nil {
		return nil, err
	}
	if k.TencentSMS, err = loadOrCreateTencentKey(filepath.Join(dir, TencentSMSSecretFile)); err != nil {
		return nil, err
	}
	if err := loadOrCreateFenfuKeyring(filepath.Join(dir, FenfuKeyringFile)); err != nil {
		return nil, err
	}
	for name, pub := range map[string]*rsa.PublicKey{
		"wechat-platform-public.pem": &k.WeChatPlatform.PublicKey, "wechat-merchant-public.pem": &k.WeChatMerchant.PublicKey,
		"alipay-platform-public.pem": &k.AlipayPlatform.PublicKey, "alipay-app-public.pem": &k.AlipayApp.PublicKey,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(publicPEM(pub)), 0o644); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// loadOrCreateSecret returns the 256-bit hex secret in path, creating it when
// the file is missing or holds less than 32 bytes.
func loadOrCreateSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	v := randomHex(32)
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", err
	}
	return v, nil
}

// loadOrCreateTencentKey returns the API key pair in path, creating one
// (an AKID-style id and a 32-character key) when the file is missing or
// incomplete.
func loadOrCreateTencentKey(path string) (tencentsms.Credential, error) {
	var c tencentsms.Credential
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &c); err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
		if c.SecretID != "" && len(c.SecretKey) >= 32 {
			return c, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	c = tencentsms.Credential{SecretID: "AKIDlocal" + randomHex(14), SecretKey: randomHex(16)}
	return c, writeJSON(path, c)
}

func loadOrCreateRSA(path string) (*rsa.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: not PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not RSA", path)
		}
		return rk, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(privatePEM(k)), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func privatePEM(k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func publicPEM(k *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
