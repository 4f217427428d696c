package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/auth"
	"github.com/estatepay/estatepay/shared/domain/staff"
	"github.com/estatepay/estatepay/shared/notify"
)

// equaliserID is read when a phone has no account, so that an unknown phone
// costs the same store round trips as a known one (phone item, then account).
const equaliserID = "-"

// Login checks a phone number and password. Unknown phones, wrong passwords
// and accounts that cannot log in (pending, disabled) all answer
// ErrBadCredentials after the same work (an argon2id verification, the same
// reads and throttle writes): nothing tells them apart. Failures count per
// phone number typed and per source IP (auth.AccountPolicy, auth.IPPolicy);
// a locked phone or IP answers ErrLocked (a *WaitError) before any password
// is checked. A login from inside WeChat (OpenID set) whose openid is not
// the account's bound one needs an SMS code first: the result then carries
// SMSChallenge instead of a session.
func (s *Service) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	now := s.now()
	phone := strings.TrimSpace(req.Phone)
	for _, th := range []struct {
		key string
		p   auth.Policy
	}{{ipKey(req.IP), auth.IPPolicy}, {phoneKey(phone), auth.AccountPolicy}} {
		if w, err := s.wait(ctx, th.key, th.p, now); err != nil {
			return LoginResult{}, err
		} else if w > 0 {
			return LoginResult{}, &WaitError{Err: ErrLocked, Wait: w}
		}
	}
	st, found, err := s.staffByPhone(ctx, phone)
	if err != nil {
		return LoginResult{}, err
	}
	ok := false
	if found {
		ok = auth.VerifyPassword(st.PasswordHash, req.Password) && st.Status == staff.Active
	} else {
		auth.VerifyDummy(req.Password)
	}
	if !ok {
		return LoginResult{}, s.loginFailed(ctx, phone, req.IP, now)
	}
	if auth.NeedsRehash(st.PasswordHash) {
		if h, err := auth.HashPassword(req.Password); err == nil {
			st.PasswordHash = h // stored with the session below
		}
	}
	if st.NeedsSMS(req.OpenID) {
		id, err := s.startChallenge(ctx, st, req.OpenID, now)
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{SMSChallenge: id}, nil
	}
	return s.startSession(ctx, st, "", req.IP, "", now)
}

func (s *Service) staffByPhone(ctx context.Context, phone string) (staff.Staff, bool, error) {
	id := equaliserID
	if staff.ValidPhone(phone) {
		got, err := s.Repo.StaffIDByPhone(ctx, phone)
		if err == nil {
			id = got
		} else if !errors.Is(err, ErrNotFound) {
			return staff.Staff{}, false, err
		}
	}
	st, err := s.Repo.GetStaff(ctx, id)
	if errors.Is(err, ErrNotFound) || id == equaliserID {
		return staff.Staff{}, false, nil
	}
	return st, err == nil, err
}

// wait is how long the throttle at key blocks (expired counters block nothing).
func (s *Service) wait(ctx context.Context, key string, p auth.Policy, now time.Time) (time.Duration, error) {
	c, err := s.Repo.GetThrottle(ctx, key)
	if err != nil {
		return 0, err
	}
	return p.Wait(c.Live(now), now), nil
}

// fail counts one failure at key; it returns the lock it started.
func (s *Service) fail(ctx context.Context, key string, p auth.Policy, now time.Time) (time.Duration, error) {
	var locked time.Duration
	_, err := s.Repo.UpdateThrottle(ctx, key, func(c *auth.Counter) (time.Time, error) {
		*c = c.Live(now)
		locked = p.Record(c, now)
		return p.Expiry(*c), nil
	})
	return locked, err
}

func (s *Service) loginFailed(ctx context.Context, phone, ip string, now time.Time) error {
	ipLocked, err := s.fail(ctx, ipKey(ip), auth.IPPolicy, now)
	if err != nil {
		return err
	}
	locked, err := s.fail(ctx, phoneKey(phone), auth.AccountPolicy, now)
	if err != nil {
		return err
	}
	locked = max(locked, ipLocked)
	s.log().Warn("login failed", "security_event", true, "reason", "bad_credentials", "ip", ip, "locked", locked > 0)
	if locked > 0 {
		return &WaitError{Err: ErrLocked, Wait: locked}
	}
	return ErrBadCredentials
}

// startChallenge sends a code to the account's phone (within auth.SMSPolicy)
// and stores the challenge that will bind openid.
func (s *Service) startChallenge(ctx context.Context, st staff.Staff, openid string, now time.Time) (string, error) {
	if err := s.countSMS(ctx, st.Phone, now); err != nil {
		return "", err
	}
	id, code := auth.NewID(), auth.NewSMSCode()
	c := Challenge{ID: id, StaffID: st.ID, Phone: st.Phone, OpenID: openid, CodeHash: auth.HashSMSCode(id, code),
		Sends: 1, SentAt: now, ExpiresAt: now.Add(auth.SMSCodeTTL)}
	if err := s.Repo.PutChallenge(ctx, c); err != nil {
		return "", err
	}
	if err := s.sendCode(ctx, st.Phone, code); err != nil {
		return "", err
	}
	return id, nil
}

// countSMS records one SMS to phone, or refuses it (ErrSMSRateLimited).
func (s *Service) countSMS(ctx context.Context, phone string, now time.Time) error {
	_, err := s.Repo.UpdateThrottle(ctx, smsKey(phone), func(c *auth.Counter) (time.Time, error) {
		*c = c.Live(now)
		if w := auth.SMSPolicy.Wait(*c, now); w > 0 {
			return time.Time{}, &WaitError{Err: ErrSMSRateLimited, Wait: w}
		}
		auth.SMSPolicy.Record(c, now)
		return auth.SMSPolicy.Expiry(*c), nil
	})
	return err
}

func (s *Service) sendCode(ctx context.Context, phone, code string) error {
	err := s.SMS.SendSMS(ctx, notify.SMSMessage{Phone: phone, TemplateID: s.SMSTemplateID,
		Params: []string{code}})
	if err != nil {
		s.log().Error("sms not sent", "err", err)
		return ErrSMSNotSent
	}
	return nil
}

// VerifySMS answers an SMS challenge: the right code (within 5 minutes and
// 5 tries) starts the session and binds the WeChat identity the login came
// from. Wrong codes count as failures of the source IP.
func (s *Service) VerifySMS(ctx context.Context, challenge, code, ip string) (LoginResult, error) {
	now := s.now()
	if w, err := s.wait(ctx, ipKey(ip), auth.IPPolicy, now); err != nil {
		return LoginResult{}, err
	} else if w > 0 {
		return LoginResult{}, &WaitError{Err: ErrLocked, Wait: w}
	}
	bad := func() (LoginResult, error) {
		if _, err := s.fail(ctx, ipKey(ip), auth.IPPolicy, now); err != nil {
			return LoginResult{}, err
		}
		s.log().Warn("sms code refused", "security_event", true, "reason", "bad_code", "ip", ip)
		return LoginResult{}, ErrBadCode
	}
	if challenge == "" {
		return bad()
	}
	c, err := s.Repo.TryChallenge(ctx, challenge, auth.SMSMaxTries)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return bad()
	} else if err != nil {
		return LoginResult{}, err
	}
	if !now.Before(c.ExpiresAt) || !auth.CheckSMSCode(c.CodeHash, c.ID, strings.TrimSpace(code)) {
		return bad()
	}
	st, err := s.Repo.GetStaff(ctx, c.StaffID)
	if errors.Is(err, ErrNotFound) {
		return bad()
	} else if err != nil {
		return LoginResult{}, err
	}
	res, err := s.startSession(ctx, st, c.OpenID, ip, c.ID, now)
	if errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrConflict) {
		return LoginResult{}, ErrBadCode // disabled meanwhile, or the challenge was used by a concurrent request
	}
	return res, err
}

// ResendSMS sends a new code for a challenge (the old one stops working;
// tries start again), within auth.SMSPolicy: 60 s apart, 5 an hour.
func (s *Service) ResendSMS(ctx context.Context, challenge string) error {
	now := s.now()
	c, err := s.Repo.GetChallenge(ctx, challenge)
	if errors.Is(err, ErrNotFound) || (err == nil && !now.Before(c.ExpiresAt)) {
		return ErrBadCode
	} else if err != nil {
		return err
	}
	if err := s.countSMS(ctx, c.Phone, now); err != nil {
		return err
	}
	code := auth.NewSMSCode()
	if err := s.Repo.ResendChallenge(ctx, c.ID, c.Sends, auth.HashSMSCode(c.ID, code), now, now.Add(auth.SMSCodeTTL)); errors.Is(err, ErrConflict) {
		return &WaitError{Err: ErrSMSRateLimited, Wait: auth.SMSPolicy.MinGap}
	} else if err != nil {
		return err
	}
	return s.sendCode(ctx, c.Phone, code)
}

// startSession makes a new session the account's one session, in one
// atomic write: the session, the account pointing at it (and binding openid
// when set), the older session marked squeezed out, the SMS challenge used
// (when set), the phone's failure count cleared, the audit entries.
func (s *Service) startSession(ctx context.Context, st staff.Staff, openid, ip, challenge string, now time.Time) (LoginResult, error) {
	for attempt := 0; ; attempt++ {
		id := auth.NewID()
		hash := auth.HashID(id)
		next := st
		squeezed, err := next.StartSession(hash, openid)
		if err != nil {
			return LoginResult{}, ErrBadCredentials
		}
		sess := Session{Hash: hash, StaffID: st.ID, CompanyID: st.CompanyID, Name: st.Name, Phone: st.Phone, Role: st.Role,
			CSRF: auth.NewID(), IP: ip, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(auth.SessionAbsolute)}
		p := principal(sess)
		entries := []AuditEntry{s.entry(p, st.CompanyID, "session.login", "staff", st.ID, nil, map[string]any{"ip": ip, "wechat": openid != ""}, now)}
		if openid != "" && openid != st.OpenID {
			entries = append(entries, s.entry(p, st.CompanyID, "staff.wechat_bound", "staff", st.ID,
				map[string]any{"wechat_bound": st.OpenID != ""}, map[string]any{"wechat_bound": true}, now))
		}
		err = s.Repo.Apply(ctx, Change{Staff: &next, PrevVersion: st.Version, PutSession: &sess, Squeeze: squeezed, SqueezedAt: now,
			UseChallenge: challenge, ClearThrottles: []string{phoneKey(st.Phone)}, Audit: entries})
		if errors.Is(err, ErrConflict) && attempt < 3 {
			// Someone changed the account meanwhile (a concurrent login): read it again.
			fresh, gerr := s.Repo.GetStaff(ctx, st.ID)
			if gerr != nil {
				return LoginResult{}, gerr
			}
			st = fresh // (a re-hash of the password waits for the next login)
			continue
		}
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{SessionID: id, Principal: p}, nil
	}
}

func principal(s Session) Principal {
	return Principal{StaffID: s.StaffID, CompanyID: s.CompanyID, Name: s.Name, Phone: s.Phone, Role: s.Role, CSRF: s.CSRF}
}

// Authenticate resolves a session id (the ep_session cookie) to its
// principal. A session another login of the account replaced answers
// ErrSqueezedOut (the first time also writing an audit entry); a session
// past its absolute (12 h) or idle (30 min) expiry, logged out, or of a
// disabled account answers ErrSessionExpired. The idle clock is pushed on at
// most once a minute.
func (s *Service) Authenticate(ctx context.Context, sessionID string) (Principal, error) {
	if sessionID == "" {
		return Principal{}, ErrSessionExpired
	}
	now := s.now()
	hash := auth.HashID(sessionID)
	sess, err := s.Repo.GetSession(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrSessionExpired
	} else if err != nil {
		return Principal{}, err
	}
	p := principal(sess)
	if !sess.SqueezedAt.IsZero() {
		if !sess.SqueezeReported {
			e := s.entry(p, sess.CompanyID, "session.squeezed_out", "staff", sess.StaffID, nil,
				map[string]any{"ip": sess.IP, "squeezed_at": sess.SqueezedAt}, now)
			if err := s.Repo.AuditSqueeze(ctx, hash, e); err != nil && !errors.Is(err, ErrConflict) {
				return Principal{}, err
			}
			s.log().Info("session squeezed out", "staff_id", sess.StaffID)
		}
		return Principal{}, ErrSqueezedOut
	}
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeen) >= auth.SessionIdle {
		return Principal{}, ErrSessionExpired
	}
	if now.Sub(sess.LastSeen) >= auth.SessionTouch {
		if err := s.Repo.TouchSession(ctx, hash, sess.LastSeen, now); err != nil && !errors.Is(err, ErrConflict) {
			return Principal{}, err
		}
	}
	return p, nil
}

// Logout ends a session (idempotent).
func (s *Service) Logout(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	hash := auth.HashID(sessionID)
	sess, err := s.Repo.GetSession(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	for attempt := 0; attempt < 3; attempt++ {
		st, err := s.Repo.GetStaff(ctx, sess.StaffID)
		if errors.Is(err, ErrNotFound) {
			return s.Repo.Apply(ctx, Change{EndSessions: []string{hash}})
		} else if err != nil {
			return err
		}
		next := st
		if next.EndSession(hash) != nil { // not the account's current session (squeezed out)
			return s.Repo.Apply(ctx, Change{EndSessions: []string{hash}})
		}
		err = s.Repo.Apply(ctx, Change{Staff: &next, PrevVersion: st.Version, EndSessions: []string{hash}})
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}
