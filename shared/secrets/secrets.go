// Package secrets loads merchant keys and other secrets by reference: an AWS
// Secrets Manager secret name or ARN in the cloud, or a file:// URL (a file under
// .local/ in the local stack). Secrets are never stored in tables and never logged; values are
// cached per process for a few minutes.
package secrets

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/estatepay/estatepay/shared/ttlcache"
)

// Loader resolves secret references.
type Loader struct {
	SM  *secretsmanager.Client // nil: ARNs cannot be resolved
	TTL time.Duration          // cache lifetime; 0 means 5 minutes

	once  sync.Once
	cache *ttlcache.Cache[string, []byte]
}

// NewLoader builds a loader using cfg for Secrets Manager.
func NewLoader(cfg aws.Config) *Loader {
	return &Loader{SM: secretsmanager.NewFromConfig(cfg)}
}

// Load returns the secret's bytes. ref is a Secrets Manager secret name
// ("estatepay/prod/admin-token"), a full secret ARN ("arn:aws:secretsmanager:…:secret:name-AbCdEf")
// or "file:///abs/path".
func (l *Loader) Load(ctx context.Context, ref string) ([]byte, error) {
	l.once.Do(func() {
		ttl := l.TTL
		if ttl == 0 {
			ttl = 5 * time.Minute
		}
		l.cache = ttlcache.New[string, []byte](ttl, 256, nil)
	})
	return l.cache.Load(ref, func() ([]byte, error) { return l.fetch(ctx, ref) })
}

func (l *Loader) fetch(ctx context.Context, ref string) ([]byte, error) {
	switch {
	case strings.HasPrefix(ref, "arn:") || isSecretName(ref):
		if l.SM == nil {
			return nil, fmt.Errorf("secrets: no Secrets Manager client for %s", redact(ref))
		}
		out, err := l.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref)})
		if err != nil {
			return nil, fmt.Errorf("secrets: get %s: %w", redact(ref), err)
		}
		if out.SecretString != nil {
			return []byte(*out.SecretString), nil
		}
		return out.SecretBinary, nil
	case strings.HasPrefix(ref, "file://"):
		u, err := url.Parse(ref)
		if err != nil {
			return nil, fmt.Errorf("secrets: bad reference")
		}
		b, err := os.ReadFile(u.Path)
		if err != nil {
			return nil, fmt.Errorf("secrets: read %s: %w", u.Path, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("secrets: unsupported reference %q", redact(ref))
}

// isSecretName reports whether ref is what Secrets Manager allows as a
// secret name: 1 to 512 of A-Z a-z 0-9 / _ + = . @ -. A loop, not the
// equivalent regexp: compiling a counted repetition of 512 took every cold
// start about 1 ms.
func isSecretName(ref string) bool {
	if len(ref) == 0 || len(ref) > 512 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("/_+=.@-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// redact keeps a reference recognisable in errors without echoing anything that
// could be a secret value pasted in by mistake.
func redact(ref string) string {
	if len(ref) > 80 {
		return ref[:80] + "…"
	}
	return ref
}
