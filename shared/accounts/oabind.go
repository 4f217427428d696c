package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
)

// Binding the official account (公众号) staff notifications are sent
// through: a staff member asks the console for a bind link (IssueBindLink),
// opens it in WeChat, the console takes the snsapi_base round trip through
// the official account and binds the openid it gets (BindOfficialAccount).
// The link carries a 256-bit random token; only its SHA-256 is stored
// (OABIND#<hash>, like the set-password links), with the staff member and
// company it was issued to, its expiry and whether it was used. Using it is
// one transaction: the token marked used (unused, unexpired, the same staff
// and company: conditions), the account at the version read, the audit entry.

// BindLinkTTL is how long a bind link works.
const BindLinkTTL = 10 * time.Minute

// Errors of the bind link (people read them on the page the link opens).
var (
	// ErrBindExpired: the link is past its 10 minutes, unknown, or no longer
	// fits its account (disabled, or of another company).
	ErrBindExpired = errors.New("链接已失效")
	// ErrBindUsed: the link bound an account already (it works once).
	ErrBindUsed = errors.New("链接已被使用")
)

// BindLink is a link's token (in the URL only) and when it stops working.
type BindLink struct {
	Token     string
	ExpiresAt time.Time
}

// OfficialBinding is a staff member's official-account binding as the
// console shows it.
type OfficialBinding struct {
	OpenID  string // the bound official-account openid ("" none)
	BoundAt time.Time
	// LoginOpenID: the account has a WeChat identity from a login inside
	// WeChat (used for messages while no official-account openid is bound).
	LoginOpenID bool
}

// IssueBindLink makes a bind link for the caller's own account (company
// staff only: operators get no staff notifications), valid BindLinkTTL.
func (s *Service) IssueBindLink(ctx context.Context, by Principal) (BindLink, error) {
	if by.CompanyID == "" || by.StaffID == "" {
		return BindLink{}, ErrForbidden
	}
	st, err := s.Repo.GetStaff(ctx, by.StaffID)
	if err != nil {
		return BindLink{}, err
	}
	if st.CompanyID != by.CompanyID {
		return BindLink{}, ErrNotFound
	}
	if st.Status != staff.Active {
		return BindLink{}, ErrForbidden
	}
	now := s.now()
	token := auth.NewID()
	t := BindToken{Hash: auth.HashID(token), StaffID: st.ID, CompanyID: st.CompanyID, CreatedAt: now, ExpiresAt: now.Add(BindLinkTTL)}
	if err := s.Repo.PutBindToken(ctx, t); err != nil {
		return BindLink{}, err
	}
	return BindLink{Token: token, ExpiresAt: t.ExpiresAt}, nil
}

// CheckBindLink reports whether a link still works (nil), is used
// (ErrBindUsed) or has expired (ErrBindExpired), without using it: the
// page the link opens checks it before the OAuth round trip.
func (s *Service) CheckBindLink(ctx context.Context, token string) error {
	_, err := s.bindToken(ctx, token, s.now())
	return err
}

func (s *Service) bindToken(ctx context.Context, token string, now time.Time) (BindToken, error) {
	if token == "" || len(token) > 128 {
		return BindToken{}, ErrBindExpired
	}
	t, err := s.Repo.GetBindToken(ctx, auth.HashID(token))
	switch {
	case errors.Is(err, ErrNotFound):
		return BindToken{}, ErrBindExpired
	case err != nil:
		return BindToken{}, err
	case !t.UsedAt.IsZero():
		return t, ErrBindUsed
	case !now.Before(t.ExpiresAt):
		return t, ErrBindExpired
	}
	return t, nil
}

// BindOfficialAccount uses a bind link: openid (from the official
// account's OAuth) becomes the official-account openid of the account the
// link was issued to. Once: of two opens at the same time one binds, the
// other is ErrBindUsed. It returns the account bound (its name, for the
// page).
func (s *Service) BindOfficialAccount(ctx context.Context, token, openid string) (StaffView, error) {
	if openid == "" {
		return StaffView{}, errors.New("accounts: bind without an openid")
	}
	for attempt := 0; attempt < 3; attempt++ {
		now := s.now()
		t, err := s.bindToken(ctx, token, now)
		if err != nil {
			return StaffView{}, err
		}
		st, err := s.Repo.GetStaff(ctx, t.StaffID)
		if errors.Is(err, ErrNotFound) {
			return StaffView{}, ErrBindExpired
		} else if err != nil {
			return StaffView{}, err
		}
		if st.CompanyID != t.CompanyID {
			s.log().WarnContext(ctx, "bind link of another company refused", "security_event", true, "staff_id", st.ID,
				"company_id", st.CompanyID, "link_company_id", t.CompanyID)
			return StaffView{}, ErrBindExpired
		}
		next := st
		if err := next.BindOfficialAccount(openid, now); errors.Is(err, staff.ErrInactive) {
			return StaffView{}, ErrBindExpired
		} else if err != nil {
			return StaffView{}, err
		}
		self := Principal{StaffID: st.ID, CompanyID: st.CompanyID, Name: st.Name, Phone: st.Phone, Role: st.Role}
		err = s.Repo.Apply(ctx, Change{Staff: &next, PrevVersion: st.Version,
			UseBindToken: &BindUse{Hash: t.Hash, StaffID: t.StaffID, CompanyID: t.CompanyID, At: now},
			Audit: []AuditEntry{s.entry(self, st.CompanyID, "staff.official_account_bind", "staff", st.ID,
				map[string]any{"official_account_bound": st.OfficialOpenID != "", "same_wechat": st.OfficialOpenID == openid},
				map[string]any{"official_account_bound": true}, now)}})
		if errors.Is(err, ErrConflict) {
			continue // the link was used meanwhile (read again: ErrBindUsed) or the account changed
		}
		if err != nil {
			return StaffView{}, err
		}
		return view(next), nil
	}
	return StaffView{}, ErrConflict
}

// OfficialAccount is the caller's own binding.
func (s *Service) OfficialAccount(ctx context.Context, by Principal) (OfficialBinding, error) {
	st, err := s.Repo.GetStaff(ctx, by.StaffID)
	if err != nil {
		return OfficialBinding{}, err
	}
	if st.CompanyID != by.CompanyID {
		return OfficialBinding{}, ErrNotFound
	}
	return OfficialBinding{OpenID: st.OfficialOpenID, BoundAt: st.OfficialBoundAt, LoginOpenID: st.OpenID != ""}, nil
}
