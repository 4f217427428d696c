// Package managercode is a business manager's collection codes (M3, M4): one
// default personal code and the extra codes admins configure with preset
// payer-field values (切换). A code has a stable id and a current token (what
// its QR code's URL carries); refreshing a code gives it a new token, and the
// token it replaces keeps working for exactly Grace after the refresh.
//
// Set is the aggregate (all codes of one manager, one item under a
// version); the repository stores each token as a directory code of kind
// Kind, whose ValidUntil the refresh sets in the same transaction. Pure: no
// I/O, no clock (callers pass times).
package managercode

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/estatepay/estatepay/shared/domain"
)

// Grace is how long a replaced token keeps paying after the refresh that
// replaced it (M4: "the previous code stops working 3 hours after the
// refresh").
const Grace = 3 * time.Hour

// Kind is the directory code kind of every manager code token ("community"
// codes are the communities').
const Kind = "manager"

// DefaultID is the id of a manager's default code.
const DefaultID = "default"

// DefaultName is what the default code is called.
const DefaultName = "默认收款码"

// Limits.
const (
	MaxExtras    = 20 // extra codes per manager
	MaxNameRunes = 20
)

// Code is one of a manager's codes.
type Code struct {
	ID   string `dynamodbav:"id"`
	Name string `dynamodbav:"name"`
	// Token is the current token (the QR code's /c/<token>).
	Token string `dynamodbav:"token"`
	// Preset are payer-field values fixed for this code (extra codes): the
	// customer's page shows them filled in and locked, and asks the rest.
	Preset   map[string]string `dynamodbav:"preset,omitempty"`
	IssuedAt time.Time         `dynamodbav:"issued_at"` // when Token was issued
}

// IsDefault reports whether c is the manager's default code.
func (c Code) IsDefault() bool { return c.ID == DefaultID }

// Set is one manager's codes: the aggregate. Version is bumped by every
// change; the repository stores a change only over the version it read.
type Set struct {
	StaffID   string `dynamodbav:"staff_id"`
	CompanyID string `dynamodbav:"company_id"`
	// CommunityID is the community whose payment settings (C2 interfaces,
	// C4 limit) the manager's codes pay through: the money goes to the
	// company's merchant like any payment of that community.
	CommunityID string `dynamodbav:"community_id"`
	Default     Code   `dynamodbav:"default"`
	Extras      []Code `dynamodbav:"extras,omitempty"`
	Version     int64  `dynamodbav:"version"`
}

// Errors.
var (
	ErrNotFound = errors.New("managercode: no such code")
	ErrTooMany  = fmt.Errorf("managercode: at most %d extra codes", MaxExtras)
)

// InvalidError is input a person must correct; Msg is Chinese, for them.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// New is a manager's set with its default code under token.
func New(staffID, companyID, communityID, token string, now time.Time) (Set, error) {
	if staffID == "" || companyID == "" || communityID == "" || token == "" {
		return Set{}, errors.New("managercode: staff, company, community and token are required")
	}
	return Set{StaffID: staffID, CompanyID: companyID, CommunityID: communityID, Version: 1,
		Default: Code{ID: DefaultID, Name: DefaultName, Token: token, IssuedAt: now.UTC()}}, nil
}

// Codes lists the set's codes, the default first, then the extras in the
// order they were added.
func (s Set) Codes() []Code {
	return append([]Code{s.Default}, s.Extras...)
}

// Find returns the code with id.
func (s Set) Find(id string) (Code, bool) {
	if id == "" || id == DefaultID {
		return s.Default, s.Default.Token != ""
	}
	for _, c := range s.Extras {
		if c.ID == id {
			return c, true
		}
	}
	return Code{}, false
}

// Superseded is a token a refresh replaced, and until when it still pays.
type Superseded struct {
	Token      string
	ValidUntil time.Time
}

// Refresh gives code id (the default when "") the new token: the token it
// had is returned with ValidUntil = now + Grace.
func (s *Set) Refresh(id, token string, now time.Time) (Superseded, error) {
	c := s.code(id)
	if c == nil {
		return Superseded{}, ErrNotFound
	}
	if token == "" || token == c.Token {
		return Superseded{}, errors.New("managercode: a refresh needs a new token")
	}
	old := Superseded{Token: c.Token, ValidUntil: now.UTC().Add(Grace)}
	c.Token, c.IssuedAt = token, now.UTC()
	s.Version++
	return old, nil
}

func (s *Set) code(id string) *Code {
	if id == "" || id == DefaultID {
		return &s.Default
	}
	for i := range s.Extras {
		if s.Extras[i].ID == id {
			return &s.Extras[i]
		}
	}
	return nil
}

// AddExtra adds an extra code (id and token new) named name with preset
// values for the payer fields fields (those its payers are asked).
func (s *Set) AddExtra(id, name, token string, preset map[string]string, fields domain.PayerFields, now time.Time) (Code, error) {
	if len(s.Extras) >= MaxExtras {
		return Code{}, &InvalidError{fmt.Sprintf("每位业务经理最多 %d 个额外收款码", MaxExtras)}
	}
	if id == "" || id == DefaultID || s.code(id) != nil || token == "" {
		return Code{}, errors.New("managercode: an extra code needs a new id and token")
	}
	name, err := checkName(name)
	if err != nil {
		return Code{}, err
	}
	p, err := CheckPreset(fields, preset)
	if err != nil {
		return Code{}, err
	}
	c := Code{ID: id, Name: name, Token: token, Preset: p, IssuedAt: now.UTC()}
	s.Extras = append(s.Extras, c)
	s.Version++
	return c, nil
}

// EditExtra renames an extra code and replaces its preset values; its token
// stays (the printed or shared code keeps working, with the new values).
func (s *Set) EditExtra(id, name string, preset map[string]string, fields domain.PayerFields) (Code, error) {
	c := s.code(id)
	if c == nil || c.IsDefault() {
		return Code{}, ErrNotFound
	}
	name, err := checkName(name)
	if err != nil {
		return Code{}, err
	}
	p, err := CheckPreset(fields, preset)
	if err != nil {
		return Code{}, err
	}
	c.Name, c.Preset = name, p
	s.Version++
	return *c, nil
}

// RevokeExtra removes an extra code; its token stops paying at once (an
// admin's decision, unlike a refresh). The removed code is returned.
func (s *Set) RevokeExtra(id string) (Code, error) {
	for i, c := range s.Extras {
		if c.ID == id {
			s.Extras = slices.Delete(s.Extras, i, i+1)
			s.Version++
			return c, nil
		}
	}
	return Code{}, ErrNotFound
}

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameRunes || !domain.IsPrintable(name) {
		return "", &InvalidError{fmt.Sprintf("收款码名称须为 1–%d 个字", MaxNameRunes)}
	}
	if name == DefaultName {
		return "", &InvalidError{"“" + DefaultName + "”是默认收款码的名称，请换一个"}
	}
	return name, nil
}

// CheckPreset checks preset values against the payer fields a code's payers
// are asked: each key must be one of them and each value must pass the
// field's own rules (domain.PayerFields.Validate). It returns the values
// cleaned (nil when none), or an *InvalidError naming the problem.
func CheckPreset(fields domain.PayerFields, preset map[string]string) (map[string]string, error) {
	if len(preset) == 0 {
		return nil, nil
	}
	offered := map[string]domain.PayerField{}
	for _, f := range fields {
		offered[f.Key] = f
	}
	var out map[string]string
	for _, k := range slices.Sorted(maps.Keys(preset)) {
		f, ok := offered[k]
		if !ok {
			return nil, &InvalidError{"预设项不是付款人填写项：" + k}
		}
		if strings.TrimSpace(preset[k]) == "" {
			continue // left empty: the payer fills it in
		}
		f.Required = true
		clean, err := domain.PayerFields{f}.Validate(map[string]string{k: preset[k]})
		if err != nil {
			return nil, &InvalidError{"预设值无效：" + err.Error()}
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = clean[k]
	}
	return out, nil
}

// ApplyPreset is what a payment through a code with preset values records:
// the payer's values with every preset one put in (a preset value cannot
// be changed by the payer; what they sent for it is ignored).
func ApplyPreset(preset, entered map[string]string) map[string]string {
	if len(preset) == 0 {
		return entered
	}
	out := make(map[string]string, len(entered)+len(preset))
	maps.Copy(out, entered)
	maps.Copy(out, preset)
	return out
}

// Usable reports whether a token whose validity ends at validUntil (zero:
// the current token, no end) still pays at now: a replaced token pays up to
// but not at validUntil (2:59:59 after the refresh it pays, 3:00:00 it does
// not).
func Usable(validUntil, now time.Time) bool {
	return validUntil.IsZero() || now.Before(validUntil)
}
