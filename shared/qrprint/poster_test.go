package qrprint

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
)

func TestPosterNamesTheCommunityAndTheAppsAccepted(t *testing.T) {
	both := domain.Availability{WeChat: true, Alipay: true}
	for _, tc := range []struct {
		name      string
		apps      domain.Availability
		want      []string
		wantNot   []string
		paper     Paper
		pageRule  string
		sheetSize string
	}{
		{"both", both, []string{"微信支付", "支付宝", domain.MsgScanWithBoth, "打开微信或支付宝"}, []string{"warning"}, A4, "@page { size: A4 portrait", `class="sheet a4"`},
		{"wechat", domain.Availability{WeChat: true}, []string{"微信支付", domain.MsgScanWeChat, "打开微信，"}, []string{"app-alipay", "warning"}, A5, "@page { size: A5 portrait", `class="sheet a5"`},
		{"alipay", domain.Availability{Alipay: true}, []string{"app-alipay", domain.MsgScanAlipay, "打开支付宝，"}, []string{"app-wechat", "warning"}, A4, "size: A4", "sheet a4"},
		{"none", domain.Availability{}, []string{domain.MsgNotOpen, `class="warning"`}, []string{"app-wechat", "app-alipay", "扫一扫"}, A4, "size: A4", "sheet a4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := RenderPoster(Poster{Community: "阳光<花园>", Company: "示范物业 & 管理", URL: codeURL, Apps: tc.apps, Paper: tc.paper,
				Fields: []string{"房号", "业主姓名"}, Query: url.Values{"code": {"tok&1"}, "paper": {"A4"}}})
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			for _, s := range append(tc.want, tc.pageRule, tc.sheetSize, "阳光&lt;花园&gt;", "收款单位：示范物业 &amp; 管理", "<svg ", `class="qr-symbol"`) {
				if !strings.Contains(page, s) {
					t.Errorf("poster lacks %q", s)
				}
			}
			_, body, _ := strings.Cut(page, "<body>")
			for _, s := range tc.wantNot {
				if strings.Contains(body, s) {
					t.Errorf("poster has %q", s)
				}
			}
			if strings.Contains(page, "<script") || strings.Contains(page, "阳光<花园>") {
				t.Error("unescaped names or a script in the poster")
			}
			if tc.apps.Any() && !strings.Contains(page, "填写房号、业主姓名") {
				t.Error("the steps do not name the payer fields")
			}
			// The paper links keep the other parameters, escaped, and set paper once.
			links := regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1)
			if len(links) != 2 || links[1][1] != "?code=tok%261&amp;paper=A5" {
				t.Errorf("paper links %v", links)
			}
		})
	}
	// The QR on the poster decodes to the code URL.
	sym, _ := Symbol(codeURL, "x")
	d := regexp.MustCompile(` d="([^"]*)"`).FindStringSubmatch(string(sym))[1]
	m, _ := encode(codeURL)
	if got := decodeQR(t, rasterize(t, d, len(m)+2*QuietZone, 8)); got != codeURL {
		t.Fatalf("poster symbol decodes to %q", got)
	}
}

func TestParsePaper(t *testing.T) {
	for in, want := range map[string]Paper{"A5": A5, "a5": A5, "A4": A4, "": A4, "letter": A4} {
		if got := ParsePaper(in); got != want {
			t.Errorf("ParsePaper(%q) = %s, want %s", in, got, want)
		}
	}
}
