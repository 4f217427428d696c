// Package fieldcrypt encrypts single fields of a record (field-level
// encryption, F6) on top of the table's own encryption at rest: a payer's
// openid, a name, a phone number in a 分付 order or risk record.
//
// Cipher: SM4 in GCM mode (国密; SM4 from github.com/emmansun/gmsm, GCM from
// the standard library's crypto/cipher), 128-bit data keys, 96-bit random
// nonces, 128-bit tags.
//
// Keys: envelope encryption. An instance asks its key source for a data key
// once (kms:GenerateDataKey in the cloud), keeps it for a while (MaxAge) and
// seals every field with it; the data key travels wrapped inside each sealed
// value, so any instance opens it by unwrapping it once (kms:Decrypt) and
// caching the result. Which key source is used is configuration
// (FENFU_KEY_REF, see FromRef): a KMS key, or a keyring secret read like every
// other secret (a Secrets Manager secret, or a file the local stack writes).
//
// Sealed format (version 1), every part base64url without padding:
//
//	v1:<key id>:<nonce>:<ciphertext+tag>
//
// where the key id is the wrapped data key. The caller's AAD (e.g.
// "fenfu/order/<order id>/payer_openid") is authenticated with the key id, so
// a value copied to another record or field, or given another key id, does
// not open.
package fieldcrypt

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm4"

	"github.com/estatepay/estatepay/shared/ttlcache"
)

// Sealer seals and opens one field. aad binds the field to its record: the
// same aad must be given to Open as to Seal.
type Sealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed string, aad string) ([]byte, error)
}

// KeySource gives data keys wrapped by a master key it holds, and unwraps
// them again.
type KeySource interface {
	// NewDataKey returns a fresh DataKeySize-byte data key and its wrapped form.
	NewDataKey(ctx context.Context) (plain, wrapped []byte, err error)
	// Unwrap returns the data key wrapped is the wrapped form of.
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
}

// DataKeySize is the size of a data key: SM4 keys are 128 bits.
const DataKeySize = 16

// Version is the prefix of sealed values this package writes.
const Version = "v1"

// ErrOpen is every failure to open a sealed value: wrong AAD, tampered
// ciphertext, unknown key, bad format. The reason is deliberately not told.
var ErrOpen = errors.New("fieldcrypt: cannot open sealed value")

var b64 = base64.RawURLEncoding

// Envelope is the Sealer over a KeySource. Safe for concurrent use; build one
// per instance (cold start) and reuse it.
type Envelope struct {
	Source KeySource
	// MaxAge is how long one data key seals before a new one is asked for
	// (0: one hour). Opening is not limited by it.
	MaxAge time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Timeout bounds each call to the key source (0: 5 seconds).
	Timeout time.Duration

	mu     sync.Mutex
	cur    *dataKey
	once   sync.Once
	opened *ttlcache.Cache[string, cipher.AEAD]
}

type dataKey struct {
	id   string // base64url of the wrapped key
	aead cipher.AEAD
	made time.Time
}

// NewEnvelope is an Envelope over src with the defaults.
func NewEnvelope(src KeySource) *Envelope { return &Envelope{Source: src} }

func (e *Envelope) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Envelope) ctx() (context.Context, context.CancelFunc) {
	t := e.Timeout
	if t == 0 {
		t = 5 * time.Second
	}
	return context.WithTimeout(context.Background(), t)
}

func (e *Envelope) cache() *ttlcache.Cache[string, cipher.AEAD] {
	e.once.Do(func() { e.opened = ttlcache.New[string, cipher.AEAD](24*time.Hour, 256, e.Now) })
	return e.opened
}

// current returns the data key sealing now, asking the source for a new one
// when there is none or it is older than MaxAge.
func (e *Envelope) current() (*dataKey, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	maxAge := e.MaxAge
	if maxAge == 0 {
		maxAge = time.Hour
	}
	now := e.now()
	if e.cur != nil && now.Sub(e.cur.made) < maxAge {
		return e.cur, nil
	}
	ctx, cancel := e.ctx()
	defer cancel()
	plain, wrapped, err := e.Source.NewDataKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: new data key: %w", err)
	}
	aead, err := newAEAD(plain)
	clear(plain)
	if err != nil {
		return nil, err
	}
	k := &dataKey{id: b64.EncodeToString(wrapped), aead: aead, made: now}
	e.cur = k
	e.cache().Set(k.id, aead)
	return k, nil
}

// Seal encrypts plaintext for the record and field aad names.
func (e *Envelope) Seal(plaintext []byte, aad string) (string, error) {
	k, err := e.current()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("fieldcrypt: nonce: %w", err)
	}
	ct := k.aead.Seal(nil, nonce, plaintext, additional(k.id, aad))
	return Version + ":" + k.id + ":" + b64.EncodeToString(nonce) + ":" + b64.EncodeToString(ct), nil
}

// Open decrypts a value Seal made with the same aad. Any failure is ErrOpen
// (wrapped with the key source's error when the key could not be had).
func (e *Envelope) Open(sealed string, aad string) ([]byte, error) {
	parts := strings.Split(sealed, ":")
	if len(parts) != 4 || parts[0] != Version || parts[1] == "" {
		return nil, ErrOpen
	}
	id := parts[1]
	nonce, err1 := b64.DecodeString(parts[2])
	ct, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return nil, ErrOpen
	}
	aead, err := e.cache().Load(id, func() (cipher.AEAD, error) {
		wrapped, err := b64.DecodeString(id)
		if err != nil {
			return nil, ErrOpen
		}
		ctx, cancel := e.ctx()
		defer cancel()
		plain, err := e.Source.Unwrap(ctx, wrapped)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOpen, err)
		}
		defer clear(plain)
		return newAEAD(plain)
	})
	if err != nil {
		if errors.Is(err, ErrOpen) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	if len(nonce) != aead.NonceSize() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, nonce, ct, additional(id, aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// additional is what GCM authenticates besides the ciphertext: the version,
// the key id and the caller's AAD, length-prefixed so no two differ only in
// where one ends.
func additional(id, aad string) []byte {
	return fmt.Appendf(nil, "%s|%d|%s|%d|%s", Version, len(id), id, len(aad), aad)
}

// newAEAD is SM4-GCM with key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("fieldcrypt: data key of %d bytes, want %d", len(key), DataKeySize)
	}
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("fieldcrypt: sm4: %w", err)
	}
	return cipher.NewGCM(block)
}
