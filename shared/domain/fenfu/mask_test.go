package fenfu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain/fenfu"
)

func TestMasks(t *testing.T) {
	cases := []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"openid", fenfu.MaskOpenID, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "oUp****S6o"},
		{"openid short", fenfu.MaskOpenID, "abc123", "******"},
		{"openid 7", fenfu.MaskOpenID, "abcdefg", "abc****efg"},
		{"openid empty", fenfu.MaskOpenID, "", ""},
		{"name 2", fenfu.MaskName, "张三", "张*"},
		{"name 4", fenfu.MaskName, "欧阳娜娜", "欧***"},
		{"name 1", fenfu.MaskName, "张", "*"},
		{"name minority", fenfu.MaskName, "阿依古丽·买买提", "阿***·***"},
		{"name latin", fenfu.MaskName, " Li Lei ", "L* ***"},
		{"mobile", fenfu.MaskPhone, "13800138000", "138****8000"},
		{"mobile +86 spaced", fenfu.MaskPhone, "+86 138 0013 8000", "138****8000"},
		{"mobile dashed", fenfu.MaskPhone, "138-0013-8000", "138****8000"},
		{"landline", fenfu.MaskPhone, "021-6234 5678", "***-**** 5678"},
		{"short number", fenfu.MaskPhone, "1234", "****"},
		{"licence USCC", fenfu.MaskLicence, "91310115MA1K4ABC2X", "91************BC2X"},
		{"food licence", fenfu.MaskLicence, "JY13101150012345", "JY**********2345"},
		{"licence short", fenfu.MaskLicence, "A12345", "******"},
	}
	for _, tc := range cases {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%s: %q → %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// What is masked never shows the hidden part, whatever the input.
func TestMasksHideTheMiddle(t *testing.T) {
	secret := "SECRETPART"
	for name, f := range map[string]func(string) string{
		"openid": fenfu.MaskOpenID, "name": fenfu.MaskName, "licence": fenfu.MaskLicence,
	} {
		if got := f("ab" + secret + "wxyz"); strings.Contains(got, "SECRET") || strings.Contains(got, "PART") {
			t.Errorf("%s shows the middle: %q", name, got)
		}
	}
	if got := fenfu.MaskPhone("13912345678"); strings.Contains(got, "1234") {
		t.Errorf("phone shows its middle digits: %q", got)
	}
}

func TestRiskRecordMasked(t *testing.T) {
	r := fenfu.RiskRecord{ID: "o1#night_large", OrderID: "o1", PayerOpenID: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		Rule: "night_large", Decision: fenfu.Refuse, AmountFen: 500000, At: time.Unix(1800000000, 0)}
	m := r.Masked()
	if m.PayerOpenID != "oUp****S6o" || r.PayerOpenID != "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" {
		t.Fatalf("masked %q, original now %q", m.PayerOpenID, r.PayerOpenID)
	}
	m.PayerOpenID = r.PayerOpenID
	if m != r {
		t.Fatalf("masking changed more than the openid: %+v", m)
	}
}
