package staff

import (
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is an account's state:
//
//	pending ─set password─► active ─disable─► disabled
//	   └──────────────disable──────────────────┘
//
// An admin creates a pending account; its owner sets the password through
// the one-time link and it becomes active; only active accounts log in.
type Status string

const (
	Pending  Status = "pending"
	Active   Status = "active"
	Disabled Status = "disabled"
)

// Staff is one staff account (the aggregate). Version is bumped by every
// change; the repository stores a change only if the version it read is
// still the stored one.
type Staff struct {
	ID        string
	CompanyID string // "" for operators
	Name      string
	Phone     string // mainland mobile number, 11 digits: the login name
	Email     string // where the set-password links go
	Role      Role
	Status    Status
	// PasswordHash is an argon2id PHC string ("" until the password is set).
	PasswordHash string
	// OpenID is the WeChat identity bound by an SMS-verified login ("" none).
	OpenID string
	// OfficialOpenID is the openid of the official account (公众号) the
	// staff notifications are sent through, bound by opening a bind link in
	// WeChat ("" none); OfficialBoundAt is when.
	OfficialOpenID  string
	OfficialBoundAt time.Time
	// Session is the SHA-256 (hex) of the current session id: one active
	// session per account (M2); any other session of the account is squeezed out.
	Session string
	// PasswordLink is the SHA-256 (hex) of the one set-password token that
	// still works ("" none): a new link replaces the old one, using it clears it.
	PasswordLink string
	Version      int64
	CreatedAt    time.Time
}

// Errors of the aggregate.
var (
	ErrInactive  = errors.New("staff: account is not active")
	ErrDisabled  = errors.New("staff: account is disabled")
	ErrLinkUsed  = errors.New("staff: password link used or replaced")
	ErrNoChange  = errors.New("staff: nothing to change")
	ErrNoSession = errors.New("staff: session is not the account's current one")
)

// InvalidError is input a person must correct; Msg is Chinese, for them.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

var (
	phoneRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
)

// ValidPhone reports whether p is a mainland mobile number (11 digits, 1[3-9]…).
func ValidPhone(p string) bool { return phoneRE.MatchString(p) }

// New is a pending account. The operator belongs to no company; every other
// role belongs to exactly one.
func New(s Staff, now time.Time) (Staff, error) {
	s.Name = strings.TrimSpace(s.Name)
	s.Email = strings.TrimSpace(s.Email)
	switch {
	case s.ID == "":
		return s, errors.New("staff: id required")
	case !s.Role.Valid():
		return s, &InvalidError{"角色无效"}
	case s.Role == Operator && s.CompanyID != "":
		return s, &InvalidError{"平台运营账号不属于任何物业公司"}
	case s.Role != Operator && s.CompanyID == "":
		return s, &InvalidError{"请选择物业公司"}
	case s.Name == "" || utf8.RuneCountInString(s.Name) > 32:
		return s, &InvalidError{"姓名须为 1–32 个字"}
	case !ValidPhone(s.Phone):
		return s, &InvalidError{"手机号格式不正确"}
	case len(s.Email) > 254 || !emailRE.MatchString(s.Email):
		return s, &InvalidError{"邮箱格式不正确"}
	}
	s.Status, s.PasswordHash, s.OpenID, s.Session, s.PasswordLink = Pending, "", "", "", ""
	s.OfficialOpenID, s.OfficialBoundAt = "", time.Time{}
	s.Version, s.CreatedAt = 1, now.UTC()
	return s, nil
}

// IssuePasswordLink makes linkHash the one set-password link that works
// (the previous one, if any, stops working).
func (s *Staff) IssuePasswordLink(linkHash string) error {
	if s.Status == Disabled {
		return ErrDisabled
	}
	s.PasswordLink = linkHash
	s.Version++
	return nil
}

// SetPassword sets the password through the link linkHash (once): the
// account becomes active, the link stops working and the current session,
// if any, ends (its hash is returned).
func (s *Staff) SetPassword(linkHash, passwordHash string) (endedSession string, err error) {
	if s.Status == Disabled {
		return "", ErrDisabled
	}
	if linkHash == "" || s.PasswordLink != linkHash {
		return "", ErrLinkUsed
	}
	ended := s.Session
	s.PasswordHash, s.Status, s.PasswordLink, s.Session = passwordHash, Active, "", ""
	s.Version++
	return ended, nil
}

// Disable ends the account: no login, no link, and its session ends (its
// hash is returned).
func (s *Staff) Disable() (endedSession string, err error) {
	if s.Status == Disabled {
		return "", ErrNoChange
	}
	ended := s.Session
	s.Status, s.Session, s.PasswordLink = Disabled, "", ""
	s.Version++
	return ended, nil
}

// Enable lets a disabled account log in again: ACTIVE when it has a
// password, PENDING (waiting for a set-password link) when it never set one.
// Its old session and link stay gone.
func (s *Staff) Enable() error {
	if s.Status != Disabled {
		return ErrNoChange
	}
	s.Status = Active
	if s.PasswordHash == "" {
		s.Status = Pending
	}
	s.Version++
	return nil
}

// ChangeRole gives the account another company role. Its session ends (a
// session carries the role it was opened with), so the new permissions
// apply from its next login. Operators are not company staff: neither
// changed into nor out of.
func (s *Staff) ChangeRole(r Role) (endedSession string, err error) {
	switch {
	case !r.Valid() || r == Operator || s.Role == Operator:
		return "", &InvalidError{"角色无效"}
	case r == s.Role:
		return "", ErrNoChange
	}
	ended := s.Session
	s.Role, s.Session = r, ""
	s.Version++
	return ended, nil
}

// NeedsSMS reports whether a login from inside WeChat as openid needs an
// SMS code first: whenever the openid is not the one bound — including the
// first login from WeChat, when none is bound yet (the code proves the
// phone before an identity is bound to the account). Logins outside WeChat
// (openid "") never do.
func (s Staff) NeedsSMS(openid string) bool { return openid != "" && openid != s.OpenID }

// StartSession makes sessionHash the account's one session and, when openid
// is not empty, binds it. It returns the hash of the session it squeezes out
// ("" none).
func (s *Staff) StartSession(sessionHash, openid string) (squeezed string, err error) {
	if s.Status != Active {
		return "", ErrInactive
	}
	squeezed = s.Session
	if squeezed == sessionHash {
		squeezed = ""
	}
	s.Session = sessionHash
	if openid != "" {
		s.OpenID = openid
	}
	s.Version++
	return squeezed, nil
}

// EndSession ends the account's session if sessionHash is it (logout).
func (s *Staff) EndSession(sessionHash string) error {
	if sessionHash == "" || s.Session != sessionHash {
		return ErrNoSession
	}
	s.Session = ""
	s.Version++
	return nil
}

// BindOfficialAccount makes openid the account's official-account identity
// (staff messages go to it), replacing any bound before. Only an active
// account binds: a disabled one gets no messages, a pending one has never
// signed in to ask for the link.
func (s *Staff) BindOfficialAccount(openid string, now time.Time) error {
	if s.Status != Active {
		return ErrInactive
	}
	if openid == "" {
		return errors.New("staff: empty openid")
	}
	s.OfficialOpenID, s.OfficialBoundAt = openid, now.UTC()
	s.Version++
	return nil
}
