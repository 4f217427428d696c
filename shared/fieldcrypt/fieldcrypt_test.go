package fieldcrypt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/estatepay/estatepay/shared/fieldcrypt"
	"github.com/estatepay/estatepay/shared/secrets"
)

// memSecret serves a keyring secret from memory and counts reads.
type memSecret struct {
	mu    sync.Mutex
	ring  fieldcrypt.Keyring
	reads atomic.Int32
}

func (m *memSecret) load(_ context.Context, ref string) ([]byte, error) {
	m.reads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if ref != "estatepay/test/fenfu-keyring" {
		return nil, errors.New("no such secret")
	}
	return json.Marshal(m.ring)
}

func (m *memSecret) set(k fieldcrypt.Keyring) { m.mu.Lock(); m.ring = k; m.mu.Unlock() }

func newKeyring(t *testing.T) (*memSecret, fieldcrypt.KeySource) {
	t.Helper()
	k, err := fieldcrypt.NewKeyring("k1")
	if err != nil {
		t.Fatal(err)
	}
	m := &memSecret{ring: k}
	src, err := fieldcrypt.FromRef("estatepay/test/fenfu-keyring", nil, m.load)
	if err != nil {
		t.Fatal(err)
	}
	return m, src
}

const aad = "fenfu/order/o-1001/payer_openid"

func TestRoundTrip(t *testing.T) {
	_, src := newKeyring(t)
	e := fieldcrypt.NewEnvelope(src)
	for _, pt := range [][]byte{[]byte("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), []byte("张三 13800138000"), {}} {
		s, err := e.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 0 && strings.Contains(s, string(pt)) {
			t.Fatalf("plaintext visible in %q", s)
		}
		parts := strings.Split(s, ":")
		if len(parts) != 4 || parts[0] != "v1" {
			t.Fatalf("format %q, want v1:<key id>:<nonce>:<ciphertext>", s)
		}
		for _, p := range parts[1:] {
			if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
				t.Fatalf("part %q is not base64url: %v", p, err)
			}
		}
		got, err := e.Open(s, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("open: %q %v, want %q", got, err, pt)
		}
		// Another instance (a fresh Envelope over the same secret) opens it too.
		got, err = fieldcrypt.NewEnvelope(src).Open(s, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("open in another instance: %q %v", got, err)
		}
	}
	a, _ := e.Seal([]byte("same"), aad)
	b, _ := e.Seal([]byte("same"), aad)
	if a == b {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
}

func TestTamperRefused(t *testing.T) {
	_, src := newKeyring(t)
	e := fieldcrypt.NewEnvelope(src)
	s, err := e.Seal([]byte("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), aad)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(s, ":")
	flip := func(p string, i int) string {
		b, _ := base64.RawURLEncoding.DecodeString(p)
		b[i%len(b)] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other, _ := fieldcrypt.NewEnvelope(src).Seal([]byte("x"), aad) // another data key
	cases := map[string]string{
		"ciphertext bit":  strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3], 0)}, ":"),
		"tag bit":         strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3], -1+len(parts[3])*3/4)}, ":"),
		"nonce bit":       strings.Join([]string{parts[0], parts[1], flip(parts[2], 3), parts[3]}, ":"),
		"wrapped key bit": strings.Join([]string{parts[0], flip(parts[1], 40), parts[2], parts[3]}, ":"),
		"other key id":    strings.Join([]string{parts[0], strings.Split(other, ":")[1], parts[2], parts[3]}, ":"),
		"truncated":       s[:len(s)-4],
		"version":         "v2" + s[2:],
		"no version":      strings.Join(parts[1:], ":"),
		"empty":           "",
		"extra part":      s + ":AAAA",
		"not base64":      strings.Join([]string{parts[0], parts[1], "!!", parts[3]}, ":"),
	}
	for name, bad := range cases {
		if got, err := e.Open(bad, aad); !errors.Is(err, fieldcrypt.ErrOpen) || got != nil {
			t.Errorf("%s: opened %q, err %v; want ErrOpen", name, got, err)
		}
	}
	if _, err := e.Open(s, aad); err != nil {
		t.Fatalf("the untouched value no longer opens: %v", err)
	}
}

func TestWrongAADRefused(t *testing.T) {
	_, src := newKeyring(t)
	e := fieldcrypt.NewEnvelope(src)
	s, err := e.Seal([]byte("13800138000"), "fenfu/order/o-1/payer_phone")
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"fenfu/order/o-2/payer_phone", "fenfu/order/o-1/payer_name", "", "fenfu/order/o-1/payer_phone "} {
		if _, err := e.Open(s, wrong); !errors.Is(err, fieldcrypt.ErrOpen) {
			t.Errorf("aad %q: err %v, want ErrOpen", wrong, err)
		}
	}
}

// Rotating the master key: new values are sealed under the new key, values
// sealed under the old one still open while the keyring keeps it, and no
// longer once it is removed.
func TestMasterKeyRotation(t *testing.T) {
	m, src := newKeyring(t)
	e1 := fieldcrypt.NewEnvelope(src)
	old, err := e1.Seal([]byte("old value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.ring.Rotate("k2")
	if err != nil {
		t.Fatal(err)
	}
	m.set(r)
	e2 := fieldcrypt.NewEnvelope(src) // a new instance after the rotation
	nu, err := e2.Seal([]byte("new value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if keyOf(t, nu) == "k1" || keyOf(t, old) != "k1" || keyOf(t, nu) != "k2" {
		t.Fatalf("master keys: old %s, new %s; want k1, k2", keyOf(t, old), keyOf(t, nu))
	}
	if got, err := e2.Open(old, aad); err != nil || string(got) != "old value" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	// The old key retired from the keyring: values under it no longer open.
	delete(r.Keys, "k1")
	m.set(r)
	if _, err := fieldcrypt.NewEnvelope(src).Open(old, aad); !errors.Is(err, fieldcrypt.ErrOpen) {
		t.Fatalf("old value without its key: %v, want ErrOpen", err)
	}
	if got, err := fieldcrypt.NewEnvelope(src).Open(nu, aad); err != nil || string(got) != "new value" {
		t.Fatalf("new value: %q %v", got, err)
	}
}

// keyOf is the master key id inside a keyring-wrapped key id.
func keyOf(t *testing.T, sealed string) string {
	t.Helper()
	w, err := base64.RawURLEncoding.DecodeString(strings.Split(sealed, ":")[1])
	if err != nil || len(w) < 1 {
		t.Fatalf("key id of %q", sealed)
	}
	return string(w[1 : 1+int(w[0])])
}

// countingSource counts the calls to a key source.
type countingSource struct {
	fieldcrypt.KeySource
	made, unwrapped atomic.Int32
}

func (c *countingSource) NewDataKey(ctx context.Context) ([]byte, []byte, error) {
	c.made.Add(1)
	return c.KeySource.NewDataKey(ctx)
}

func (c *countingSource) Unwrap(ctx context.Context, w []byte) ([]byte, error) {
	c.unwrapped.Add(1)
	return c.KeySource.Unwrap(ctx, w)
}

// One data key per instance until MaxAge (injected clock), then a new one;
// values under the earlier data key still open; an opened key is cached.
func TestDataKeyAgeAndCache(t *testing.T) {
	_, src := newKeyring(t)
	c := &countingSource{KeySource: src}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	e := &fieldcrypt.Envelope{Source: c, MaxAge: time.Hour, Now: func() time.Time { return now }}
	a, _ := e.Seal([]byte("a"), aad)
	now = now.Add(59 * time.Minute)
	b, _ := e.Seal([]byte("b"), aad)
	if c.made.Load() != 1 || strings.Split(a, ":")[1] != strings.Split(b, ":")[1] {
		t.Fatalf("within MaxAge: %d data keys, want 1 shared", c.made.Load())
	}
	now = now.Add(time.Minute)
	d, _ := e.Seal([]byte("d"), aad)
	if c.made.Load() != 2 || strings.Split(a, ":")[1] == strings.Split(d, ":")[1] {
		t.Fatalf("at MaxAge: %d data keys, want a second", c.made.Load())
	}
	for s, want := range map[string]string{a: "a", b: "b", d: "d"} {
		if got, err := e.Open(s, aad); err != nil || string(got) != want {
			t.Fatalf("open %q: %q %v", want, got, err)
		}
	}
	if c.unwrapped.Load() != 0 {
		t.Fatalf("the instance's own data keys were unwrapped %d times", c.unwrapped.Load())
	}
	other := &fieldcrypt.Envelope{Source: c, Now: func() time.Time { return now }}
	for range 5 {
		if _, err := other.Open(a, aad); err != nil {
			t.Fatal(err)
		}
	}
	if c.unwrapped.Load() != 1 {
		t.Fatalf("another instance unwrapped one data key %d times, want 1 (cached)", c.unwrapped.Load())
	}
}

func TestFromRef(t *testing.T) {
	if _, err := fieldcrypt.FromRef("", nil, nil); err == nil {
		t.Fatal("empty ref accepted")
	}
	if _, err := fieldcrypt.FromRef("kms:", kms.New(kms.Options{}), nil); err == nil {
		t.Fatal("kms: without a key accepted")
	}
	if _, err := fieldcrypt.FromRef("kms:alias/x", nil, nil); err == nil {
		t.Fatal("kms without a client accepted")
	}
	s, err := fieldcrypt.FromRef("kms:arn:aws:kms:cn-north-1:111122223333:key/abc", kms.New(kms.Options{}), nil)
	if k, ok := s.(fieldcrypt.KMSSource); err != nil || !ok || k.KeyID != "arn:aws:kms:cn-north-1:111122223333:key/abc" {
		t.Fatalf("kms ref: %#v %v", s, err)
	}
}

// The local stack's way: the keyring is a file, read through secrets.Loader
// by a file:// reference, as a Secrets Manager secret is in the cloud.
func TestKeyringFileThroughSecretsLoader(t *testing.T) {
	k, err := fieldcrypt.NewKeyring("local-1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(k)
	p := filepath.Join(t.TempDir(), "fenfu-keyring.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := fieldcrypt.FromConfig(aws.Config{}, "file://"+p, (&secrets.Loader{}).Load)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Seal([]byte("oUpF8"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.Open(s, aad); err != nil || string(got) != "oUpF8" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := fieldcrypt.NewEnvelope(fieldcrypt.KeyringSource{Ref: "file://" + p + ".missing", Load: (&secrets.Loader{}).Load}).Seal([]byte("x"), aad); err == nil {
		t.Fatal("sealed without a keyring")
	}
}

// fakeKMS speaks the KMS JSON protocol for GenerateDataKey and Decrypt, so the
// SDK's real client is what the KMS source is tested with.
type fakeKMS struct {
	keyARN   string
	mu       sync.Mutex
	wrapped  map[string][]byte // blob → plaintext
	n        int
	contexts []map[string]string
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		KeyId             string
		KeySpec           string
		CiphertextBlob    []byte
		EncryptionContext map[string]string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.contexts = append(f.contexts, in.EncryptionContext)
	fail := func(typ string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": typ})
	}
	if in.KeyId != f.keyARN || in.EncryptionContext["purpose"] != "fenfu-field" {
		fail("InvalidCiphertextException")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.GenerateDataKey":
		if in.KeySpec != "AES_128" {
			fail("ValidationException")
			return
		}
		f.n++
		plain := bytes.Repeat([]byte{byte(f.n)}, 16)
		blob := append([]byte("blob-"), byte(f.n))
		f.wrapped[string(blob)] = plain
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": f.keyARN, "Plaintext": plain, "CiphertextBlob": blob})
	case "TrentService.Decrypt":
		plain, ok := f.wrapped[string(in.CiphertextBlob)]
		if !ok {
			fail("InvalidCiphertextException")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": f.keyARN, "Plaintext": plain})
	default:
		fail("UnknownOperationException")
	}
}

func TestKMSSource(t *testing.T) {
	const arn = "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	f := &fakeKMS{keyARN: arn, wrapped: map[string][]byte{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	client := kms.New(kms.Options{
		Region: "cn-north-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	src, err := fieldcrypt.FromRef("kms:"+arn, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	e1 := fieldcrypt.NewEnvelope(src)
	s, err := e1.Seal([]byte("oUpF8uMuAJO"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if id := strings.Split(s, ":")[1]; id != base64.RawURLEncoding.EncodeToString([]byte("blob-\x01")) {
		t.Fatalf("key id %q is not the wrapped data key", id)
	}
	e2 := fieldcrypt.NewEnvelope(src) // another instance: kms:Decrypt once
	for range 3 {
		if got, err := e2.Open(s, aad); err != nil || string(got) != "oUpF8uMuAJO" {
			t.Fatalf("%q %v", got, err)
		}
	}
	if len(f.contexts) != 2 {
		t.Fatalf("%d KMS calls, want 2 (GenerateDataKey, one Decrypt)", len(f.contexts))
	}
	// A key source over another KMS key cannot open it.
	wrong := fieldcrypt.NewEnvelope(fieldcrypt.KMSSource{Client: client, KeyID: arn + "-other"})
	if _, err := wrong.Open(s, aad); !errors.Is(err, fieldcrypt.ErrOpen) {
		t.Fatalf("other key: %v, want ErrOpen", err)
	}
}
