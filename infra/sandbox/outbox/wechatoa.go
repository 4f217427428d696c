package outbox

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The official account's API (公众号): POST /cgi-bin/stable_token and POST
// /cgi-bin/message/template/send. Each template message sent lands in the
// outbox (channel "wechat_oa", To the openid, Template the template id, Body
// the fields as "key: value" lines). Tests force errors: ExpireTokens (the
// next send gets 40001) and FailOpenID (e.g. 43004, not following).
type oaState struct {
	mu     sync.Mutex
	tokens map[string]time.Time // token → expiry
	fail   map[string]int       // openid → errcode to answer
	issued int
}

// ExpireTokens invalidates every token issued: the next send with one is refused with 40001.
func (s *Server) ExpireTokens() {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	s.oa.tokens = map[string]time.Time{}
}

// TokensIssued counts the tokens stable_token has handed out.
func (s *Server) TokensIssued() int {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	return s.oa.issued
}

// FailOpenID makes template messages to openid fail with code (0: succeed again).
func (s *Server) FailOpenID(openid string, code int) {
	s.oa.mu.Lock()
	defer s.oa.mu.Unlock()
	if code == 0 {
		delete(s.oa.fail, openid)
		return
	}
	s.oa.fail[openid] = code
}

func oaFail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, http.StatusOK, map[string]any{"errcode": code, "errmsg": msg})
}

func (s *Server) handleStableToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType string `json:"grant_type"`
		AppID     string `json:"appid"`
		Secret    string `json:"secret"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.GrantType != "client_credential" {
		oaFail(w, 40002, "invalid grant_type")
		return
	}
	if want, ok := s.cfg.WeChatOA[req.AppID]; len(s.cfg.WeChatOA) > 0 && !ok {
		oaFail(w, 40013, "invalid appid")
		return
	} else if ok && want != req.Secret {
		oaFail(w, 40125, "invalid appsecret")
		return
	}
	tok := "sbtoken-" + randomHex(16)
	s.oa.mu.Lock()
	s.oa.tokens[tok] = s.cfg.Now().Add(7200 * time.Second)
	s.oa.issued++
	s.oa.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 7200})
}

func (s *Server) handleTemplateSend(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	s.oa.mu.Lock()
	exp, ok := s.oa.tokens[tok]
	s.oa.mu.Unlock()
	switch {
	case !ok:
		oaFail(w, 40001, "invalid credential, access_token is invalid or not latest")
		return
	case !s.cfg.Now().Before(exp):
		oaFail(w, 42001, "access_token expired")
		return
	}
	var req struct {
		ToUser     string                       `json:"touser"`
		TemplateID string                       `json:"template_id"`
		URL        string                       `json:"url"`
		Data       map[string]map[string]string `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ToUser == "" || req.TemplateID == "" {
		oaFail(w, 47001, "data format error")
		return
	}
	s.oa.mu.Lock()
	code := s.oa.fail[req.ToUser]
	s.oa.mu.Unlock()
	if code != 0 {
		oaFail(w, code, map[int]string{43004: "require subscribe", 40003: "invalid openid", 45009: "reach max api daily quota limit"}[code])
		return
	}
	keys := make([]string, 0, len(req.Data))
	for k := range req.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines, params []string
	for _, k := range keys {
		lines = append(lines, k+": "+req.Data[k]["value"])
		params = append(params, req.Data[k]["value"])
	}
	if req.URL != "" {
		lines = append(lines, "url: "+req.URL)
	}
	m, err := s.add(Message{Channel: "wechat_oa", To: req.ToUser, Template: req.TemplateID, Body: strings.Join(lines, "\n"), Params: params})
	if err != nil {
		oaFail(w, -1, "system error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": m.ID})
}

// handleOAFail is the people's way to FailOpenID and ExpireTokens:
// POST /sandbox/wechat-oa/fail?openid=<openid>&errcode=43004 (errcode 0 or
// absent: succeed again); POST /sandbox/wechat-oa/expire-tokens.
func (s *Server) handleOAFail(w http.ResponseWriter, r *http.Request) {
	openid := r.URL.Query().Get("openid")
	code, err := strconv.Atoi(r.URL.Query().Get("errcode"))
	if openid == "" || (err != nil && r.URL.Query().Get("errcode") != "") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid", "message": "需要 openid 和数字 errcode"})
		return
	}
	s.FailOpenID(openid, code)
	writeJSON(w, http.StatusOK, map[string]any{"openid": openid, "errcode": code})
}

func (s *Server) handleOAExpire(w http.ResponseWriter, _ *http.Request) {
	s.ExpireTokens()
	writeJSON(w, http.StatusOK, map[string]any{"expired": true})
}
