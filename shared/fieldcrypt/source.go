package fieldcrypt

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// EnvKeyRef is the environment variable naming a function's 分付 field key
// source: "kms:<key id, key ARN or alias>" or a secret reference holding a
// Keyring (a Secrets Manager name or ARN, or file:// in the local stack).
const EnvKeyRef = "FENFU_KEY_REF"

// EncryptionContext is the KMS encryption context of every data key: KMS
// binds it to the wrapped key, and a key policy or grant can require it
// (kms:EncryptionContext:purpose = fenfu-field).
var EncryptionContext = map[string]string{"app": "estatepay", "purpose": "fenfu-field"}

// KMSAPI is the part of the KMS client a KMS key source calls.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opt ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opt ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// KMSSource wraps data keys with a KMS key: kms:GenerateDataKey makes one
// (AES_128 key spec: 16 random bytes, used as the SM4 key), kms:Decrypt
// unwraps it. KMS keeps every earlier version of a rotated key, so values
// sealed before a rotation still open.
type KMSSource struct {
	Client KMSAPI
	KeyID  string // key id, key ARN or alias ARN/name
}

// NewDataKey asks KMS for a data key.
func (s KMSSource) NewDataKey(ctx context.Context) ([]byte, []byte, error) {
	out, err := s.Client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(s.KeyID), KeySpec: types.DataKeySpecAes128, EncryptionContext: EncryptionContext,
	})
	if err != nil {
		return nil, nil, err
	}
	if len(out.Plaintext) != DataKeySize || len(out.CiphertextBlob) == 0 {
		return nil, nil, fmt.Errorf("kms: data key of %d bytes", len(out.Plaintext))
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

// Unwrap asks KMS to decrypt a wrapped data key. The key id is passed so a
// blob wrapped by another key is refused rather than decrypted.
func (s KMSSource) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	out, err := s.Client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: wrapped, KeyId: aws.String(s.KeyID), EncryptionContext: EncryptionContext,
	})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// Keyring is the secret of a keyring key source: master keys by id
// (base64 of 16 random bytes each) and the one that wraps new data keys.
// Rotate by adding a key and making it current; keep the old ones as long as
// values sealed under them are kept (retention: 5 years).
type Keyring struct {
	Current string            `json:"current"`
	Keys    map[string]string `json:"keys"`
}

// NewKeyring is a keyring with one fresh master key, id.
func NewKeyring(id string) (Keyring, error) {
	k := make([]byte, DataKeySize)
	if _, err := rand.Read(k); err != nil {
		return Keyring{}, err
	}
	return Keyring{Current: id, Keys: map[string]string{id: base64.StdEncoding.EncodeToString(k)}}, nil
}

// Rotate adds a fresh master key id and makes it current.
func (k Keyring) Rotate(id string) (Keyring, error) {
	n, err := NewKeyring(id)
	if err != nil {
		return Keyring{}, err
	}
	keys := map[string]string{}
	for i, v := range k.Keys {
		keys[i] = v
	}
	keys[id] = n.Keys[id]
	return Keyring{Current: id, Keys: keys}, nil
}

func (k Keyring) master(id string) ([]byte, error) {
	v, ok := k.Keys[id]
	if !ok {
		return nil, fmt.Errorf("keyring: no key %q", id)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != DataKeySize {
		return nil, fmt.Errorf("keyring: key %q is not base64 of %d bytes", id, DataKeySize)
	}
	return b, nil
}

// KeyringSource wraps data keys with the master keys of a Keyring secret,
// read on every new data key or unwrap through Load (a secrets.Loader's
// Load: cached for minutes, so a rotated keyring is picked up). A wrapped
// key is: one byte n, the master key id (n bytes), nonce, SM4-GCM of the
// data key.
type KeyringSource struct {
	Ref  string
	Load func(ctx context.Context, ref string) ([]byte, error)
}

const wrapAAD = "estatepay/fenfu-field/data-key"

func (s KeyringSource) keyring(ctx context.Context) (Keyring, error) {
	b, err := s.Load(ctx, s.Ref)
	if err != nil {
		return Keyring{}, err
	}
	var k Keyring
	if err := json.Unmarshal(b, &k); err != nil {
		return Keyring{}, errors.New("keyring: not a keyring secret")
	}
	return k, nil
}

// NewDataKey makes 16 random bytes and wraps them with the current master key.
func (s KeyringSource) NewDataKey(ctx context.Context) ([]byte, []byte, error) {
	k, err := s.keyring(ctx)
	if err != nil {
		return nil, nil, err
	}
	id := k.Current
	if id == "" || len(id) > 255 {
		return nil, nil, errors.New("keyring: no current key")
	}
	mk, err := k.master(id)
	if err != nil {
		return nil, nil, err
	}
	aead, err := newAEAD(mk)
	if err != nil {
		return nil, nil, err
	}
	plain := make([]byte, DataKeySize)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(plain); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	w := append([]byte{byte(len(id))}, id...)
	w = append(w, nonce...)
	w = aead.Seal(w, nonce, plain, []byte(wrapAAD))
	return plain, w, nil
}

// Unwrap opens a data key with the master key it names.
func (s KeyringSource) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 1 || len(wrapped) < 1+int(wrapped[0]) {
		return nil, errors.New("keyring: bad wrapped key")
	}
	n := int(wrapped[0])
	id, rest := string(wrapped[1:1+n]), wrapped[1+n:]
	k, err := s.keyring(ctx)
	if err != nil {
		return nil, err
	}
	mk, err := k.master(id)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(mk)
	if err != nil {
		return nil, err
	}
	if len(rest) < aead.NonceSize() {
		return nil, errors.New("keyring: bad wrapped key")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(wrapAAD))
	if err != nil {
		return nil, errors.New("keyring: wrapped key does not open")
	}
	return plain, nil
}

// FromRef is the key source ref names (the value of FENFU_KEY_REF):
// "kms:<key>" is a KMSSource over client (which must then not be nil), any
// other non-empty reference a KeyringSource whose secret load reads.
func FromRef(ref string, client KMSAPI, load func(ctx context.Context, ref string) ([]byte, error)) (KeySource, error) {
	switch {
	case strings.HasPrefix(ref, "kms:"):
		key := strings.TrimPrefix(ref, "kms:")
		if key == "" || client == nil {
			return nil, fmt.Errorf("fieldcrypt: %s needs a KMS key and client", EnvKeyRef)
		}
		return KMSSource{Client: client, KeyID: key}, nil
	case ref != "":
		if load == nil {
			return nil, fmt.Errorf("fieldcrypt: %s needs a secrets loader", EnvKeyRef)
		}
		return KeyringSource{Ref: ref, Load: load}, nil
	}
	return nil, fmt.Errorf("fieldcrypt: %s is not set", EnvKeyRef)
}

// FromConfig is the Envelope for ref with the AWS SDK's config: a KMS client
// from cfg when ref is a KMS key, else the keyring secret through load
// (secrets.Loader.Load). Call once per instance.
func FromConfig(cfg aws.Config, ref string, load func(ctx context.Context, ref string) ([]byte, error)) (*Envelope, error) {
	var client KMSAPI
	if strings.HasPrefix(ref, "kms:") {
		client = kms.NewFromConfig(cfg)
	}
	src, err := FromRef(ref, client, load)
	if err != nil {
		return nil, err
	}
	return NewEnvelope(src), nil
}
