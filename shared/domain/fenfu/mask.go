package fenfu

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masking (F6): staff who may not read full 分付 data (admins, cashiers:
// staff.FenfuViewMasked) see these instead of the values. Each keeps just
// enough to recognise a value one already knows, never enough to recover
// it. Counting is in runes, so Chinese text is never cut inside a character.

// MaskOpenID keeps an openid's first 3 and last 3 characters:
// "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" → "oUp****S6o". Six characters or fewer are
// masked whole; the middle is always 4 stars, so the length is not told.
func MaskOpenID(s string) string {
	r := []rune(s)
	if len(r) <= 6 {
		return stars(len(r))
	}
	return string(r[:3]) + "****" + string(r[len(r)-3:])
}

// MaskName keeps a person's family name — the first character — and stars
// the rest, one per character: "张三" → "张*", "欧阳娜娜" → "欧***",
// "Li Lei" → "L* ***". A one-character name is starred whole.
func MaskName(s string) string {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n <= 1 {
		return stars(n)
	}
	var b strings.Builder
	for i, c := range []rune(s) {
		switch {
		case i == 0:
			b.WriteRune(c)
		case unicode.IsSpace(c) || c == '·' || c == '•':
			b.WriteRune(c) // the separator of a minority or foreign name stays
		default:
			b.WriteByte('*')
		}
	}
	return b.String()
}

// MaskPhone masks a phone number. A mainland mobile number (11 digits,
// possibly after +86) keeps its first 3 and last 4 digits:
// "13800138000" → "138****8000"; any other number keeps its last 4 digits
// and its separators: "021-6234 5678" → "***-**** 5678". Fewer than 5 digits
// are starred whole.
func MaskPhone(s string) string {
	s = strings.TrimSpace(s)
	digits := 0
	for _, c := range s {
		if '0' <= c && c <= '9' {
			digits++
		}
	}
	national := strings.TrimPrefix(strings.TrimPrefix(strings.NewReplacer(" ", "", "-", "").Replace(s), "+86"), "86")
	if len(national) == 11 && national[0] == '1' && allDigits(national) {
		return national[:3] + "****" + national[7:]
	}
	keep := 4
	if digits < 5 {
		keep = 0
	}
	var b strings.Builder
	seen := 0
	for _, c := range s {
		if '0' <= c && c <= '9' {
			seen++
			if seen > digits-keep {
				b.WriteRune(c)
				continue
			}
			b.WriteByte('*')
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// MaskLicence masks a licence or certificate number (营业执照 统一社会信用代码,
// 食品经营许可证 …) keeping its first 2 and last 4 characters:
// "91310115MA1K4ABC2X" → "91************BC2X" (the region and the check
// character tell nothing alone). Six characters or fewer are starred whole.
func MaskLicence(s string) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= 6 {
		return stars(len(r))
	}
	return string(r[:2]) + stars(len(r)-6) + string(r[len(r)-4:])
}

// Masked is the record as staff without full access see it: the payer's
// openid masked; the rest (rule, decision, amount, time) is what they need
// to follow it.
func (r RiskRecord) Masked() RiskRecord {
	r.PayerOpenID = MaskOpenID(r.PayerOpenID)
	return r
}

func stars(n int) string { return strings.Repeat("*", n) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
