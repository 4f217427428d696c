package stack

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain/staff"
)

// controlHandler serves the local-only control API (its own port, never part of
// the template's API):
//
//	GET  /                       the stack description (same as .local/stack.json)
//	POST /schedules/{name}       fire a schedule now; an optional JSON body replaces its Input
//	POST /snapshot               persist tables and queues now
//	POST /manager-codes/age?by=3h  as if that time had passed for every manager
//	                             code a refresh replaced (its 3-hour grace)
//	POST /fenfu/clock?at=<RFC 3339>  the 分付 risk rules' clock (no at: wall clock)
//	POST /remind/clock?at=<RFC 3339> the arrears reminders' clock (no at: wall clock)
func (s *Stack) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fenfu/clock", s.handleRiskClock)
	mux.HandleFunc("POST /remind/clock", s.handleRemindClock) // demo_remind.go
	mux.HandleFunc("POST /manager-codes/age", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil || d <= 0 {
			http.Error(w, "by must be a positive duration, e.g. by=3h", http.StatusBadRequest)
			return
		}
		n, err := s.AgeManagerCodes(r.Context(), d)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"aged": n})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Description())
	})
	mux.HandleFunc("POST /schedules/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		input := strings.TrimSpace(string(body))
		if input != "" && !json.Valid([]byte(input)) {
			http.Error(w, "body must be JSON (the schedule's Input)", http.StatusBadRequest)
			return
		}
		out, err := s.FireSchedule(r.Context(), r.PathValue("name"), input)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
	mux.HandleFunc("POST /snapshot", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Snapshot(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// Description is what .local/stack.json holds.
type Description struct {
	URLs      URLs              `json:"urls"`
	Tables    map[string]string `json:"tables"`
	Queues    map[string]string `json:"queues"`
	Schedules []string          `json:"schedules"`
	Demo      *Demo             `json:"demo"`
	Sandbox   SandboxSettings   `json:"sandbox"`
	Admin     AdminSettings     `json:"admin"`
}

// SandboxSettings lets an outside program act as a provider.
type SandboxSettings struct {
	KeysDir string         `json:"keys_dir"`
	WeChat  map[string]any `json:"wechat"`
	Alipay  map[string]any `json:"alipay"`
	// TencentSMS and SES are the accounts the outbox plays (urls.outbox).
	TencentSMS map[string]any `json:"tencent_sms"`
	SES        map[string]any `json:"ses"`
}

// AdminSettings tells how to call the console's JSON API locally: sign in
// as a demo account (demo.accounts) and send the session cookie; calls that
// change something also send the login's csrf_token as X-CSRF-Token.
type AdminSettings struct {
	Login   string `json:"login"`   // curl: sign in as the demo company's admin, the cookie kept in ./jar
	Example string `json:"example"` // curl: a community's payment records with that cookie
}

// Description describes the running stack.
func (s *Stack) Description() Description {
	keys := filepath.Join(s.opt.StateDir, "keys")
	d := Description{URLs: s.URLs, Tables: s.Tables, Queues: s.Queues, Schedules: s.ScheduleNames(), Demo: s.Demo}
	d.Sandbox = SandboxSettings{
		KeysDir: keys,
		WeChat: map[string]any{
			"mchid": DemoWeChatMchID, "appid": DemoWeChatAppID, "merchant_serial_no": DemoWeChatSerialNo,
			"platform_public_key_id": DemoWeChatPublicKeyID,
			"platform_private_key":   filepath.Join(keys, "wechat-platform-private.pem"),
			"merchant_private_key":   filepath.Join(keys, "wechat-merchant-private.pem"),
			"apiv3_key_file":         filepath.Join(keys, "sandbox-secrets.json"),
			"notify_url":             s.URLs.Gateway + "/notify/wechat/demo-wechat",
		},
		Alipay: map[string]any{
			"app_id": DemoAlipayAppID, "seller_id": DemoAlipaySellerID,
			"alipay_private_key": filepath.Join(keys, "alipay-platform-private.pem"),
			"app_private_key":    filepath.Join(keys, "alipay-app-private.pem"),
			"notify_url":         s.URLs.Gateway + "/notify/alipay/demo-alipay",
		},
		TencentSMS: map[string]any{
			"endpoint": s.URLs.Outbox, "region": "ap-guangzhou", "sdk_app_id": LocalSmsSdkAppID, "sign_name": LocalSmsSignName,
			"code_template_id": LocalSmsCodeTemplateID, "secret_file": filepath.Join(keys, TencentSMSSecretFile),
		},
		SES: map[string]any{
			"endpoint": s.URLs.Outbox, "identity": LocalSesIdentity, "from": LocalSesFromAddress,
		},
	}
	d.Admin = s.adminSettings()
	return d
}

// adminSettings are the curl examples of the console API: the session login
// as the demo company's admin, then a records call.
func (s *Stack) adminSettings() AdminSettings {
	if s.Demo == nil || len(s.Demo.Communities) == 0 {
		return AdminSettings{}
	}
	for _, a := range s.Demo.Accounts {
		if a.Role != string(staff.Admin) || a.CompanyID != s.Demo.CompanyID {
			continue
		}
		body, _ := json.Marshal(map[string]string{"phone": a.Phone, "password": a.Password})
		return AdminSettings{
			Login:   `curl -c jar -H 'Content-Type: application/json' -d '` + string(body) + `' ` + s.URLs.Gateway + "/admin/api/session",
			Example: "curl -b jar " + s.URLs.Gateway + "/admin/api/communities/" + s.Demo.Communities[0].ID + "/payments",
		}
	}
	return AdminSettings{}
}

// writeStackJSON writes .local/stack.json (atomically: a reader sees the
// whole file or none). Start writes it before the gateway takes traffic and
// Close removes it, so it exists exactly while a stack is up.
func (s *Stack) writeStackJSON() error {
	return writeJSON(filepath.Join(s.opt.StateDir, "stack.json"), s.Description())
}

func (s *Stack) removeStackJSON() error {
	if err := os.Remove(filepath.Join(s.opt.StateDir, "stack.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
