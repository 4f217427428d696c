package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

// Repository is the port to the AccessTable. shared/store.Access (DynamoDB)
// and shared/store/memory.Access implement it; shared/store/accesstest is
// the contract suite both pass. Records carry their expiry; the repository
// returns them as stored and the service decides what has expired (DynamoDB
// deletes expired items only eventually).
type Repository interface {
	// GetStaff returns an account or ErrNotFound.
	GetStaff(ctx context.Context, id string) (staff.Staff, error)
	// StaffIDByPhone returns the id of the account with this phone or ErrNotFound.
	StaffIDByPhone(ctx context.Context, phone string) (string, error)
	// ListStaff returns a company's accounts ("" the operators), by name.
	ListStaff(ctx context.Context, companyID string) ([]staff.Staff, error)

	// GetSession returns a session by the hash of its id, or ErrNotFound.
	GetSession(ctx context.Context, hash string) (Session, error)
	// TouchSession sets a session's last-seen time to at if it is still
	// seen (another request may have touched it first: ErrConflict).
	TouchSession(ctx context.Context, hash string, seen, at time.Time) error
	// AuditSqueeze marks a squeezed-out session as reported and writes e, in
	// one write: once (ErrConflict when it was reported already or is gone).
	AuditSqueeze(ctx context.Context, hash string, e AuditEntry) error

	// GetPasswordLink returns a set-password link by its token's hash, or ErrNotFound.
	GetPasswordLink(ctx context.Context, hash string) (PasswordLink, error)

	// PutChallenge stores a new SMS challenge.
	PutChallenge(ctx context.Context, c Challenge) error
	// GetChallenge returns a challenge or ErrNotFound.
	GetChallenge(ctx context.Context, id string) (Challenge, error)
	// TryChallenge counts one try of a challenge and returns it, unless it
	// has had max tries already (ErrConflict) or does not exist (ErrNotFound).
	TryChallenge(ctx context.Context, id string, max int) (Challenge, error)
	// ResendChallenge replaces a challenge's code (tries start again) if it
	// has been sent `sends` times (else ErrConflict: a concurrent resend).
	ResendChallenge(ctx context.Context, id string, sends int, codeHash string, sentAt, expiresAt time.Time) error

	// GetThrottle returns a throttle counter (zero when none is stored).
	GetThrottle(ctx context.Context, key string) (auth.Counter, error)
	// UpdateThrottle applies change to the stored counter (zero when none)
	// and stores the result with the expiry change returns, only if nobody
	// changed it meanwhile — re-reading and re-applying when someone did,
	// so concurrent failures all count. An error from change stores nothing.
	UpdateThrottle(ctx context.Context, key string, change func(c *auth.Counter) (expires time.Time, err error)) (auth.Counter, error)

	// PutBindToken stores a new official-account bind token (a token with
	// the same hash exists: ErrConflict).
	PutBindToken(ctx context.Context, t BindToken) error
	// GetBindToken returns a bind token by its hash, or ErrNotFound.
	GetBindToken(ctx context.Context, hash string) (BindToken, error)

	// Apply writes a change atomically: everything or nothing.
	Apply(ctx context.Context, c Change) error

	// AuditPage returns a log's entries ("" the platform's), newest first,
	// at most limit, after cursor (""), and the cursor of the next page ("" at the end).
	AuditPage(ctx context.Context, companyID, cursor string, limit int) ([]AuditEntry, string, error)
}

// Errors of the repository.
var (
	// ErrConflict: a condition failed (the account changed since it was
	// read, a challenge was used, a session was reported already).
	ErrConflict = errors.New("accounts: concurrent change")
	// ErrOperatorExists: the first operator exists already (bootstrap).
	ErrOperatorExists = errors.New("accounts: an operator exists already")
)

// Session is a login session as stored: pk SESSION#<Hash>. Its id is never
// stored, only Hash = SHA-256 of it; ExpiresAt is the absolute expiry (TTL).
type Session struct {
	Hash                string
	StaffID, CompanyID  string
	Name, Phone         string
	Role                staff.Role
	CSRF                string
	IP                  string
	CreatedAt, LastSeen time.Time
	ExpiresAt           time.Time
	SqueezedAt          time.Time // a newer login of the account squeezed it out
	SqueezeReported     bool      // its owner was told, and the audit entry written
}

// Challenge is a pending SMS step-up: pk SMS#<ID>.
type Challenge struct {
	ID        string
	StaffID   string
	Phone     string
	OpenID    string // bound when the code is verified
	CodeHash  string // auth.HashSMSCode(ID, code)
	Tries     int
	Sends     int
	SentAt    time.Time
	ExpiresAt time.Time
}

// PasswordLink is a set-password link: pk SETPW#<Hash>, Hash = SHA-256 of the token.
type PasswordLink struct {
	Hash      string
	StaffID   string
	ExpiresAt time.Time
}

// BindToken is an official-account bind link: pk OABIND#<Hash>, Hash =
// SHA-256 of the token in the link. It binds to one staff member of one
// company, works until ExpiresAt and once (UsedAt is set when it is used).
type BindToken struct {
	Hash      string
	StaffID   string
	CompanyID string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// BindUse marks a bind token used at At: it must exist, be unused, not have
// expired at At, and be the one of StaffID in CompanyID (else ErrConflict).
type BindUse struct {
	Hash               string
	StaffID, CompanyID string
	At                 time.Time
}

// Change is what one command writes, atomically (one TransactWriteItems).
type Change struct {
	// Staff is an account as it is to be stored: a new one (PrevVersion 0;
	// its phone must be free, else ErrPhoneTaken) or a changed one, stored
	// only if PrevVersion is still the stored version (else ErrConflict).
	Staff       *staff.Staff
	PrevVersion int64
	// Bootstrap: Staff is the first operator; claim the one-operator
	// singleton too (ErrOperatorExists when it is claimed).
	Bootstrap bool
	// PutSession stores a new session.
	PutSession *Session
	// Squeeze marks the session with this hash squeezed out at SqueezedAt
	// (a session that is gone stays gone).
	Squeeze    string
	SqueezedAt time.Time
	// EndSessions deletes sessions by hash.
	EndSessions []string
	// PutLink stores a set-password link; DeleteLinks deletes links by hash.
	PutLink     *PasswordLink
	DeleteLinks []string
	// UseChallenge deletes a challenge that must still exist (else ErrConflict).
	UseChallenge string
	// UseBindToken marks a bind token used (its conditions: BindUse).
	UseBindToken *BindUse
	// ClearThrottles deletes throttle counters by key.
	ClearThrottles []string
	// Audit appends entries to their logs.
	Audit []AuditEntry
}

// Throttle keys.
func phoneKey(phone string) string { return "phone#" + phone }
func ipKey(ip string) string       { return "ip#" + ip }
func smsKey(phone string) string   { return "sms#" + phone }
