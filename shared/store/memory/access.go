package memory

import (
	"context"
	"encoding/base64"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

// Access is the in-memory AccessTable (accounts.Repository): the same
// contract as the DynamoDB adapter (shared/store.Access), proven by
// shared/store/accesstest, for fast application tests.
type Access struct {
	mu         sync.Mutex
	staff      map[string]staff.Staff
	phones     map[string]string
	sessions   map[string]accounts.Session
	links      map[string]accounts.PasswordLink
	challenges map[string]accounts.Challenge
	throttles  map[string]auth.Counter
	audit      map[string][]accounts.AuditEntry // log -> entries, oldest first
	binds      map[string]accounts.BindToken
	operator   bool
}

// NewAccess is an empty AccessTable.
func NewAccess() *Access {
	return &Access{staff: map[string]staff.Staff{}, phones: map[string]string{}, sessions: map[string]accounts.Session{},
		links: map[string]accounts.PasswordLink{}, challenges: map[string]accounts.Challenge{}, throttles: map[string]auth.Counter{},
		audit: map[string][]accounts.AuditEntry{}, binds: map[string]accounts.BindToken{}}
}

func (a *Access) GetStaff(ctx context.Context, id string) (staff.Staff, error) {
	return lookup(&a.mu, a.staff, id)
}

func (a *Access) StaffIDByPhone(ctx context.Context, phone string) (string, error) {
	return lookup(&a.mu, a.phones, phone)
}

func (a *Access) ListStaff(ctx context.Context, companyID string) ([]staff.Staff, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []staff.Staff
	for _, st := range a.staff {
		if st.CompanyID == companyID {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (a *Access) GetSession(ctx context.Context, hash string) (accounts.Session, error) {
	return lookup(&a.mu, a.sessions, hash)
}

func (a *Access) TouchSession(ctx context.Context, hash string, seen, at time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[hash]
	if !ok || !s.LastSeen.Equal(seen) {
		return accounts.ErrConflict
	}
	s.LastSeen = at
	a.sessions[hash] = s
	return nil
}

func (a *Access) AuditSqueeze(ctx context.Context, hash string, e accounts.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[hash]
	if !ok || s.SqueezeReported {
		return accounts.ErrConflict
	}
	s.SqueezeReported = true
	a.sessions[hash] = s
	a.audit[e.CompanyID] = append(a.audit[e.CompanyID], e)
	return nil
}

func (a *Access) GetPasswordLink(ctx context.Context, hash string) (accounts.PasswordLink, error) {
	return lookup(&a.mu, a.links, hash)
}

func (a *Access) PutChallenge(ctx context.Context, c accounts.Challenge) error {
	return putOnce(&a.mu, a.challenges, c.ID, c)
}

func (a *Access) GetChallenge(ctx context.Context, id string) (accounts.Challenge, error) {
	return lookup(&a.mu, a.challenges, id)
}

func (a *Access) TryChallenge(ctx context.Context, id string, max int) (accounts.Challenge, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.challenges[id]
	if !ok {
		return c, accounts.ErrNotFound
	}
	if c.Tries >= max {
		return c, accounts.ErrConflict
	}
	c.Tries++
	a.challenges[id] = c
	return c, nil
}

func (a *Access) ResendChallenge(ctx context.Context, id string, sends int, codeHash string, sentAt, expiresAt time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.challenges[id]
	if !ok || c.Sends != sends {
		return accounts.ErrConflict
	}
	c.Sends, c.Tries, c.CodeHash, c.SentAt, c.ExpiresAt = sends+1, 0, codeHash, sentAt, expiresAt
	a.challenges[id] = c
	return nil
}

func (a *Access) GetThrottle(ctx context.Context, key string) (auth.Counter, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.throttles[key], nil
}

func (a *Access) UpdateThrottle(ctx context.Context, key string, change func(c *auth.Counter) (time.Time, error)) (auth.Counter, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.throttles[key]
	v := c.Version
	exp, err := change(&c)
	if err != nil {
		return a.throttles[key], err
	}
	c.Version, c.ExpiresAt = v+1, time.Unix(exp.Unix(), 0).UTC() // stored in epoch seconds, as the TTL is
	a.throttles[key] = c
	return c, nil
}

// Apply checks every condition first, then writes everything.
func (a *Access) Apply(ctx context.Context, c accounts.Change) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := c.Staff; st != nil {
		cur, exists := a.staff[st.ID]
		if c.PrevVersion == 0 {
			if _, taken := a.phones[st.Phone]; taken {
				return accounts.ErrPhoneTaken
			}
			if exists {
				return accounts.ErrConflict
			}
			if c.Bootstrap && a.operator {
				return accounts.ErrOperatorExists
			}
		} else if !exists || cur.Version != c.PrevVersion {
			return accounts.ErrConflict
		}
	}
	if c.PutSession != nil {
		if _, ok := a.sessions[c.PutSession.Hash]; ok {
			return accounts.ErrConflict
		}
	}
	if c.UseChallenge != "" {
		if _, ok := a.challenges[c.UseChallenge]; !ok {
			return accounts.ErrConflict
		}
	}
	if u := c.UseBindToken; u != nil {
		t, ok := a.binds[u.Hash]
		if !ok || !t.UsedAt.IsZero() || !u.At.Before(t.ExpiresAt) || t.StaffID != u.StaffID || t.CompanyID != u.CompanyID {
			return accounts.ErrConflict
		}
	}
	// All conditions hold: write.
	if u := c.UseBindToken; u != nil {
		t := a.binds[u.Hash]
		t.UsedAt = u.At
		a.binds[u.Hash] = t
	}
	if st := c.Staff; st != nil {
		if c.PrevVersion == 0 {
			a.phones[st.Phone] = st.ID
			if c.Bootstrap {
				a.operator = true
			}
		}
		a.staff[st.ID] = *st
	}
	if c.PutSession != nil {
		a.sessions[c.PutSession.Hash] = *c.PutSession
	}
	if s, ok := a.sessions[c.Squeeze]; ok && c.Squeeze != "" {
		s.SqueezedAt = c.SqueezedAt
		a.sessions[c.Squeeze] = s
	}
	for _, h := range c.EndSessions {
		delete(a.sessions, h)
	}
	if c.PutLink != nil {
		a.links[c.PutLink.Hash] = *c.PutLink
	}
	for _, h := range c.DeleteLinks {
		delete(a.links, h)
	}
	delete(a.challenges, c.UseChallenge)
	for _, k := range c.ClearThrottles {
		delete(a.throttles, k)
	}
	for _, e := range c.Audit {
		a.audit[e.CompanyID] = append(a.audit[e.CompanyID], e)
	}
	return nil
}

func auditKey(e accounts.AuditEntry) string {
	return e.At.UTC().Format("2006-01-02T15:04:05.000Z") + "#" + e.ID
}

func (a *Access) AuditPage(ctx context.Context, companyID, cursor string, limit int) ([]accounts.AuditEntry, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !strings.Contains(string(b), "#") {
			return nil, "", &accounts.InvalidError{Msg: "分页参数无效"}
		}
		after = string(b)
	}
	all := append([]accounts.AuditEntry(nil), a.audit[companyID]...)
	sort.Slice(all, func(i, j int) bool { return auditKey(all[i]) > auditKey(all[j]) })
	var out []accounts.AuditEntry
	for _, e := range all {
		if after != "" && auditKey(e) >= after {
			continue
		}
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString([]byte(auditKey(out[len(out)-1]))), nil
		}
		out = append(out, e)
	}
	return out, "", nil
}

func (a *Access) PutBindToken(ctx context.Context, t accounts.BindToken) error {
	return putOnce(&a.mu, a.binds, t.Hash, t)
}

func (a *Access) GetBindToken(ctx context.Context, hash string) (accounts.BindToken, error) {
	return lookup(&a.mu, a.binds, hash)
}

// lookup reads m[k] under mu: accounts.ErrNotFound when absent.
func lookup[K comparable, V any](mu *sync.Mutex, m map[K]V, k K) (V, error) {
	mu.Lock()
	defer mu.Unlock()
	v, ok := m[k]
	if !ok {
		return v, accounts.ErrNotFound
	}
	return v, nil
}

// putOnce stores m[k] = v under mu unless k is there (accounts.ErrConflict),
// as a conditional PutItem with attribute_not_exists does.
func putOnce[K comparable, V any](mu *sync.Mutex, m map[K]V, k K, v V) error {
	mu.Lock()
	defer mu.Unlock()
	if _, ok := m[k]; ok {
		return accounts.ErrConflict
	}
	m[k] = v
	return nil
}
