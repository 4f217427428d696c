package managercode_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
)

var t0 = time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)

var fields = domain.PayerFields{
	{Key: "company", Label: "公司名称", Type: domain.FieldText, Required: true, MaxLen: 30},
	{Key: "contract", Label: "合同编号", Type: domain.FieldNumber, Required: true},
	{Key: "note", Label: "备注", Type: domain.FieldText},
}

func TestRefreshKeepsTheOldTokenExactlyThreeHours(t *testing.T) {
	s, err := managercode.New("mgr-1", "co-1", "cm-1", "tokA", t0)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	old, err := s.Refresh("", "tokB", at)
	if err != nil {
		t.Fatal(err)
	}
	if old.Token != "tokA" || !old.ValidUntil.Equal(at.Add(3*time.Hour)) {
		t.Fatalf("superseded = %+v", old)
	}
	if s.Default.Token != "tokB" || !s.Default.IssuedAt.Equal(at) || s.Version != 2 {
		t.Fatalf("set after refresh = %+v", s)
	}
	for _, tc := range []struct {
		after time.Duration
		pays  bool
	}{{0, true}, {2*time.Hour + 59*time.Minute + 59*time.Second, true}, {3*time.Hour - time.Nanosecond, true}, {3 * time.Hour, false}, {4 * time.Hour, false}} {
		if got := managercode.Usable(old.ValidUntil, at.Add(tc.after)); got != tc.pays {
			t.Errorf("%v after the refresh: usable = %v, want %v", tc.after, got, tc.pays)
		}
	}
	if !managercode.Usable(time.Time{}, at.Add(1000*time.Hour)) {
		t.Error("the current token (no end) refused")
	}
	if _, err := s.Refresh("nope", "tokC", at); !errors.Is(err, managercode.ErrNotFound) {
		t.Errorf("refresh of an unknown code: %v", err)
	}
	if _, err := s.Refresh("", "tokB", at); err == nil {
		t.Error("a refresh to the same token was accepted")
	}
}

func TestExtraCodesWithPresets(t *testing.T) {
	s, _ := managercode.New("mgr-1", "co-1", "cm-1", "tokA", t0)
	c, err := s.AddExtra("x1", " 甲公司 ", "tokX", map[string]string{"company": " 甲公司 ", "contract": "2026001", "note": ""}, fields, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "甲公司" || c.Preset["company"] != "甲公司" || c.Preset["contract"] != "2026001" || len(c.Preset) != 2 {
		t.Fatalf("extra = %+v", c)
	}
	if got := s.Codes(); len(got) != 2 || got[0].ID != managercode.DefaultID || got[1].ID != "x1" {
		t.Fatalf("codes = %+v", got)
	}
	for _, tc := range []struct {
		preset map[string]string
		want   string
	}{
		{map[string]string{"house": "1"}, "预设项不是付款人填写项"},
		{map[string]string{"contract": "abc"}, "只能填写数字"},
		{map[string]string{"company": strings.Repeat("长", 31)}, "最多 30 个字"},
	} {
		if _, err := s.AddExtra("x2", "乙", "tokY", tc.preset, fields, t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("preset %v: %v, want %q", tc.preset, err, tc.want)
		}
	}
	for _, name := range []string{"", "  ", strings.Repeat("名", 21), managercode.DefaultName} {
		if _, err := s.AddExtra("x2", name, "tokY", nil, fields, t0); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := s.AddExtra("x1", "重复", "tokY", nil, fields, t0); err == nil {
		t.Error("a taken id accepted")
	}
	if _, err := s.EditExtra("x1", "甲公司（新）", map[string]string{"contract": "2026002"}, fields); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Find("x1"); c.Name != "甲公司（新）" || c.Preset["contract"] != "2026002" || c.Preset["company"] != "" || c.Token != "tokX" {
		t.Fatalf("edited = %+v", c)
	}
	if _, err := s.EditExtra(managercode.DefaultID, "x", nil, fields); !errors.Is(err, managercode.ErrNotFound) {
		t.Errorf("edit of the default code: %v", err)
	}
	// Refreshing an extra code keeps its presets.
	if _, err := s.Refresh("x1", "tokX2", t0); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Find("x1"); c.Token != "tokX2" || c.Preset["contract"] != "2026002" {
		t.Fatalf("refreshed extra = %+v", c)
	}
	gone, err := s.RevokeExtra("x1")
	if err != nil || gone.Token != "tokX2" {
		t.Fatalf("revoke: %+v %v", gone, err)
	}
	if _, ok := s.Find("x1"); ok {
		t.Error("revoked code still found")
	}
	for i := range managercode.MaxExtras {
		if _, err := s.AddExtra("y"+string(rune('a'+i)), "码"+string(rune('a'+i)), "t"+string(rune('a'+i)), nil, fields, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddExtra("z", "多一个", "tz", nil, fields, t0); err == nil {
		t.Error("more than MaxExtras accepted")
	}
}

func TestApplyPresetWins(t *testing.T) {
	got := managercode.ApplyPreset(map[string]string{"company": "甲公司"}, map[string]string{"company": "乙公司", "note": "x"})
	if got["company"] != "甲公司" || got["note"] != "x" {
		t.Fatalf("ApplyPreset = %v", got)
	}
	if got := managercode.ApplyPreset(nil, map[string]string{"a": "b"}); got["a"] != "b" {
		t.Fatalf("no preset: %v", got)
	}
}
