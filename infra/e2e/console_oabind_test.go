package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/notify/wechatoa"
)

// TestConsoleBindOfficialAccount: on 通知设置 the demo admin makes a bind
// QR code (the page at 390×844 and 1280×800), a phone scans it — the code
// read back from the screenshot, opened in the WeChat WebView: the
// official account's OAuth through the sandbox — and 绑定成功; the console
// then says 已绑定. A payment message to that WeChat fails with 43004 (not
// following): 通知设置 says 请先关注公众号 with 重新发送测试消息, which
// lands in the outbox once the WeChat follows.
func TestConsoleBindOfficialAccount(t *testing.T) {
	b := consoleBrowser(t) // first: a missing browser fails before the stack starts
	s := stacktest.Start(t)
	admin := account(t, s, "admin", false)
	tab := isolatedTab(t, b, "")
	signIn(t, s, tab, admin.Phone, admin.Password, "/admin")
	open(t, tab, s.URLs.Gateway+"/admin/notifications")
	if txt := bodyText(t, tab); !strings.Contains(txt, "微信公众号") || !strings.Contains(txt, "未绑定") {
		t.Fatalf("通知设置 before binding:\n%s", txt)
	}
	submit(t, tab, "make a bind QR code", `form[action="/admin/notifications/oa-bind"]`)
	link := run(t, tab, "bind link", chromedp.Evaluate[string](`(document.querySelector("#oa-bind code") || {}).textContent || ""`))
	if !strings.HasPrefix(link, s.URLs.Gateway+"/admin/oa-bind?t=") {
		t.Fatalf("bind link %q\n%s", link, pageState(tab))
	}
	overflow := run(t, tab, "page width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if overflow {
		t.Errorf("通知设置 with the bind QR code is wider than the 390 px screen")
	}
	consoleShots(t, tab, "notifications-bind")
	shot := run(t, tab, "screenshot of the bind QR code", chromedp.Screenshot(chromedp.CSS("#oa-bind .qr svg")))
	if got, _ := decodeQR(t, shot); got != link {
		t.Fatalf("the bind QR code reads %q, want the link %q", got, link)
	}

	// A phone opens the link in WeChat (the WebView in front of the gateway).
	phone := isolatedTab(t, b, "")
	open(t, phone, strings.Replace(link, s.URLs.Gateway, s.URLs.WeChatWebView, 1))
	if txt := bodyText(t, phone); !strings.Contains(txt, "绑定成功") || !strings.Contains(txt, admin.Name) {
		t.Fatalf("the phone after the link:\n%s", txt)
	}
	screenshots(t, phone, "oabind-done")
	st, err := s.Store().AccessRepo().GetStaff(context.Background(), "demo-admin")
	if err != nil || st.OfficialOpenID == "" {
		t.Fatalf("demo admin after binding: %+v %v", st, err)
	}
	openid := st.OfficialOpenID
	open(t, phone, strings.Replace(link, s.URLs.Gateway, s.URLs.WeChatWebView, 1))
	if txt := bodyText(t, phone); !strings.Contains(txt, "链接已被使用") {
		t.Fatalf("the link opened again:\n%s", txt)
	}
	open(t, tab, s.URLs.Gateway+"/admin/notifications")
	if txt := bodyText(t, tab); !strings.Contains(txt, "已绑定") || strings.Contains(txt, "未绑定") {
		t.Fatalf("通知设置 after binding:\n%s", txt)
	}

	// The bound WeChat does not follow the account: the payment message fails with 43004.
	s.Outbox().FailOpenID(openid, wechatoa.CodeNotFollowing)
	o := stacktest.CreateOrder(t, s, stacktest.CommunityToken(t, s, "demo-both"), "wechat", 1234, "oE2EPayer")
	if err := s.WeChat().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the 43004 recorded on 通知设置", 30*time.Second, func() bool {
		open(t, tab, s.URLs.Gateway+"/admin/notifications")
		return followShown(t, tab)
	})
	consoleShots(t, tab, "notifications-follow")
	s.Outbox().FailOpenID(openid, 0) // the WeChat follows the account
	submit(t, tab, "重新发送测试消息", `#oa-follow form[action="/admin/notifications/oa-test"]`)
	if txt := bodyText(t, tab); !strings.Contains(txt, "测试消息已发送") {
		t.Fatalf("after 重新发送测试消息:\n%s", txt)
	}
	tests := 0
	for _, m := range s.Outbox().Messages() {
		if m.Channel == "wechat_oa" && m.To == openid && strings.Contains(m.Body, "测试消息") {
			tests++
		}
	}
	if tests != 1 {
		t.Fatalf("%d test messages to the bound WeChat in the outbox", tests)
	}
	open(t, tab, s.URLs.Gateway+"/admin/notifications")
	if followShown(t, tab) {
		t.Fatalf("通知设置 still asks to follow after the test message arrived:\n%s", bodyText(t, tab))
	}
}

// followShown reports whether 通知设置 shows the 请先关注公众号 action (43004).
func followShown(t *testing.T, tab context.Context) bool {
	t.Helper()
	return run(t, tab, "follow action", chromedp.Evaluate[bool](`!!document.querySelector("#oa-follow") && document.querySelector("#oa-follow").innerText.includes("请先关注公众号")`))
}
