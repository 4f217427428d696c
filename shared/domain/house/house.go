// Package house is the House: one dwelling (or shop, or parking space) of a
// community that bills are issued to: building / unit / room, and its owner.
// A house's id is derived from where it is (company, community, building,
// unit, room), so importing the same house twice names the same house.
package house

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// House is the record. Building, Unit and Room are as the company writes
// them ("3", "2", "1101"; Unit may be empty).
type House struct {
	ID          string
	CompanyID   string
	CommunityID string
	Building    string
	Unit        string
	Room        string
	OwnerName   string
	OwnerPhone  string // mainland mobile, 11 digits, or empty
	AreaM2      string // floor area as written ("89.5"), optional, used by area-priced fee items
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ErrInvalid: a house breaks an invariant (the message says which, in Chinese).
var ErrInvalid = errors.New("house: invalid")

// ErrNotFound: no such house (in the caller's company).
var ErrNotFound = errors.New("house: not found")

var (
	phoneRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	areaRE  = regexp.MustCompile(`^[0-9]{1,5}(\.[0-9]{1,2})?$`)
)

// ID derives a house's id from where it is.
func ID(companyID, communityID, building, unit, room string) string {
	sum := sha256.Sum256([]byte(companyID + "\x00" + communityID + "\x00" + norm(building) + "\x00" + norm(unit) + "\x00" + norm(room)))
	return "H" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:24])
}

func norm(s string) string { return strings.TrimSpace(s) }

func part(name, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("%w: %s不能为空", ErrInvalid, name)
	case utf8.RuneCountInString(v) > 16:
		return fmt.Errorf("%w: %s最多 16 个字", ErrInvalid, name)
	case strings.ContainsAny(v, "#\x00\t\r\n"):
		return fmt.Errorf("%w: %s不能包含 # 或控制字符", ErrInvalid, name)
	}
	return nil
}

// New checks a house and gives it its id. Errors wrap ErrInvalid and read
// as Chinese messages after the prefix (Message strips it).
func New(h House, at time.Time) (House, error) {
	h.Building, h.Unit, h.Room = norm(h.Building), norm(h.Unit), norm(h.Room)
	h.OwnerName, h.OwnerPhone, h.AreaM2 = norm(h.OwnerName), norm(h.OwnerPhone), norm(h.AreaM2)
	if h.CompanyID == "" || h.CommunityID == "" {
		return House{}, fmt.Errorf("%w: 缺少公司或小区", ErrInvalid)
	}
	if err := part("楼栋", h.Building, true); err != nil {
		return House{}, err
	}
	if err := part("单元", h.Unit, false); err != nil {
		return House{}, err
	}
	if err := part("房号", h.Room, true); err != nil {
		return House{}, err
	}
	if utf8.RuneCountInString(h.OwnerName) > 32 || strings.ContainsAny(h.OwnerName, "\x00\t\r\n<>") {
		return House{}, fmt.Errorf("%w: 业主姓名最多 32 个字，且不能包含 < > 或控制字符", ErrInvalid)
	}
	if h.OwnerPhone != "" && !phoneRE.MatchString(h.OwnerPhone) {
		return House{}, fmt.Errorf("%w: 业主手机号应为 11 位手机号码", ErrInvalid)
	}
	if h.AreaM2 != "" && !areaRE.MatchString(h.AreaM2) {
		return House{}, fmt.Errorf("%w: 面积应为数字，最多两位小数", ErrInvalid)
	}
	h.ID = ID(h.CompanyID, h.CommunityID, h.Building, h.Unit, h.Room)
	if h.CreatedAt.IsZero() {
		h.CreatedAt = at
	}
	h.UpdatedAt = at
	return h, nil
}

// Label is how people write the house: 3栋2单元1101 (3栋1101 without a unit).
func (h House) Label() string { return Label(h.Building, h.Unit, h.Room) }

// Label writes building, unit and room the way people read them.
func Label(building, unit, room string) string {
	s := building
	if !strings.HasSuffix(s, "栋") && !strings.HasSuffix(s, "幢") && !strings.HasSuffix(s, "号楼") {
		s += "栋"
	}
	if unit != "" {
		s += unit
		if !strings.HasSuffix(unit, "单元") {
			s += "单元"
		}
	}
	return s + room
}

// SortKey orders houses by building, unit and room, with numbers compared
// as numbers (2 before 10): each part left-padded to 8 characters.
func SortKey(building, unit, room string) string {
	return pad(building) + "#" + pad(unit) + "#" + pad(room)
}

// SortPrefix is the SortKey prefix of a building's houses (unit "") or of
// one unit's.
func SortPrefix(building, unit string) string {
	if unit == "" {
		return pad(building) + "#"
	}
	return pad(building) + "#" + pad(unit) + "#"
}

func pad(s string) string {
	if n := utf8.RuneCountInString(s); n < 8 {
		return strings.Repeat(" ", 8-n) + s
	}
	return s
}

// MaskedPhone shows a phone as 138****0001 (what a cashier's screen shows).
func MaskedPhone(p string) string {
	if len(p) != 11 {
		return p
	}
	return p[:3] + "****" + p[7:]
}

// Message is the Chinese part of an ErrInvalid error.
func Message(err error) string {
	s := err.Error()
	if m, ok := strings.CutPrefix(s, ErrInvalid.Error()+": "); ok { // "house: invalid: <message>"
		return m
	}
	if i := strings.Index(s, ": "); i >= 0 && errors.Is(err, ErrInvalid) {
		return s[i+2:]
	}
	return s
}
