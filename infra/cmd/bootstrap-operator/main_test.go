package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/store/memory"
)

func TestBootstrapOnce(t *testing.T) {
	repo := memory.NewAccess()
	use := func(string) (accounts.Repository, error) { return repo, nil }
	var out strings.Builder
	args := []string{"-table", "AccessTable", "-base-url", "https://pay.example.com", "-phone", "13800000000", "-email", "ops@example.com"}
	if err := run(context.Background(), args, &out, use); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`https://pay\.example\.com/admin/set-password\?token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no link in %q", out.String())
	}
	svc := &accounts.Service{Repo: repo}
	if err := svc.SetPassword(context.Background(), m[1], "first-pass-1"); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(context.Background(), accounts.LoginRequest{Phone: "13800000000", Password: "first-pass-1", IP: "127.0.0.1"})
	if err != nil || res.Principal.Role != "operator" {
		t.Fatalf("operator login %+v %v", res, err)
	}
	out.Reset()
	args[5] = "13800000001"
	if err := run(context.Background(), args, &out, use); err != nil || !strings.Contains(out.String(), "nothing changed") || strings.Contains(out.String(), "token=") {
		t.Fatalf("second run: %v %q", err, out.String())
	}
	if _, err := repo.StaffIDByPhone(context.Background(), "13800000001"); err == nil {
		t.Fatal("a second operator was bootstrapped")
	}
	if err := run(context.Background(), []string{"-table", "T"}, &out, use); err == nil {
		t.Fatal("missing flags accepted")
	}
}
