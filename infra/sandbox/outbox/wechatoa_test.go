package outbox

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOfficialAccountTemplateMessages(t *testing.T) {
	s, err := New(Config{WeChatOA: map[string]string{"wxapp": "sec"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if out := post(t, srv.URL+"/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"wxapp","secret":"wrong"}`); out["errcode"] != float64(40125) {
		t.Fatalf("wrong secret: %v", out)
	}
	tok, _ := post(t, srv.URL+"/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"wxapp","secret":"sec"}`)["access_token"].(string)
	send := func() map[string]any {
		return post(t, srv.URL+"/cgi-bin/message/template/send?access_token="+tok, `{"touser":"oX","template_id":"tpl","data":{"amount":{"value":"1.00元"}}}`)
	}
	if out := send(); out["errcode"] != float64(0) {
		t.Fatalf("send: %v", out)
	}
	if m := s.Messages(); len(m) != 1 || m[0].Channel != "wechat_oa" || m[0].To != "oX" || m[0].Body != "amount: 1.00元" {
		t.Fatalf("outbox: %+v", m)
	}
	post(t, srv.URL+"/sandbox/wechat-oa/fail?openid=oX&errcode=43004", "")
	if out := send(); out["errcode"] != float64(43004) {
		t.Fatalf("forced 43004: %v", out)
	}
	post(t, srv.URL+"/sandbox/wechat-oa/fail?openid=oX", "")
	post(t, srv.URL+"/sandbox/wechat-oa/expire-tokens", "")
	if out := send(); out["errcode"] != float64(40001) {
		t.Fatalf("expired token: %v", out)
	}
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages, want only the one delivered", n)
	}
}
