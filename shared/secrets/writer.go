package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Writer stores secrets the console receives (merchant keys, OAuth app
// secrets) under a base reference and returns the reference to keep in the
// interface record. Base is a Secrets Manager name prefix ("estatepay/prod":
// secrets become "estatepay/prod/merchant/<iface>") or a file:// directory
// (the local stack's .local/keys: files "<dir>/merchant/<iface>.json").
// Values are written, never read back and never logged.
type Writer struct {
	Base string
	SM   *secretsmanager.Client // needed for a Secrets Manager base
}

// NewWriter builds a writer for base, using cfg for Secrets Manager.
func NewWriter(cfg aws.Config, base string) *Writer {
	w := &Writer{Base: strings.TrimSuffix(base, "/")}
	if !strings.HasPrefix(base, "file://") {
		w.SM = secretsmanager.NewFromConfig(cfg)
	}
	return w
}

// ErrBadSecretName is a name that is not 1-64 of a-z A-Z 0-9 - _ (one path
// segment, so nothing escapes the base).
var ErrBadSecretName = errors.New("secrets: bad secret name")

// Put writes value as the secret "<kind>/<name>" under the base ("merchant",
// "oauth") and returns its reference: the Secrets Manager name, or the
// file:// URL. Writing an existing secret replaces its value (a new version).
func (w *Writer) Put(ctx context.Context, kind, name string, value []byte) (string, error) {
	if !segment(kind) || !segment(name) {
		return "", ErrBadSecretName
	}
	if len(value) == 0 {
		return "", errors.New("secrets: empty value")
	}
	if strings.HasPrefix(w.Base, "file://") {
		return w.putFile(kind, name, value)
	}
	if !isSecretName(w.Base) {
		return "", fmt.Errorf("secrets: unsupported base %q", redact(w.Base))
	}
	if w.SM == nil {
		return "", errors.New("secrets: no Secrets Manager client")
	}
	ref := w.Base + "/" + kind + "/" + name
	_, err := w.SM.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(ref), SecretString: aws.String(string(value)),
		Description: aws.String("estatepay " + kind + " secret, written by the console"),
	})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		_, err = w.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(ref), SecretString: aws.String(string(value))})
	}
	if err != nil {
		return "", fmt.Errorf("secrets: write %s: %w", ref, err)
	}
	return ref, nil
}

// putFile writes the value atomically (temporary file, then rename), owner
// read/write only.
func (w *Writer) putFile(kind, name string, value []byte) (string, error) {
	u, err := url.Parse(w.Base)
	if err != nil || u.Host != "" || u.Path == "" || !filepath.IsAbs(u.Path) {
		return "", errors.New("secrets: bad file base")
	}
	dir := filepath.Join(u.Path, kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, nothing to remove
	if _, err := f.Write(value); err != nil {
		f.Close()
		return "", fmt.Errorf("secrets: write: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("secrets: write: %w", err)
	}
	path := filepath.Join(dir, name+".json")
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	return "file://" + path, nil
}

// Fingerprint is what a person is shown instead of a secret: the first 16
// bytes of its SHA-256, in hex groups ("3f2a9c1e:…").
func Fingerprint(value []byte) string {
	sum := sha256.Sum256(value)
	h := hex.EncodeToString(sum[:16])
	var b strings.Builder
	for i := 0; i < len(h); i += 8 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+8])
	}
	return "SHA256:" + b.String()
}

func segment(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
