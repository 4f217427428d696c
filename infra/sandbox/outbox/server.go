// Package outbox is the local stand-in for the providers that reach people:
// one HTTP server that speaks Amazon SES v2 (POST /v2/email/outbound-emails,
// SigV4-signed) and Tencent Cloud SMS API 3.0 (POST / with X-TC-Action
// SendSms, TC3-HMAC-SHA256 verified with the sandbox's secret key), so the
// product's real adapters (shared/notify/ses through aws-sdk-go-v2,
// shared/notify/tencentsms) run unchanged against it.
//
// Every message accepted goes into the outbox, which a person reads at GET /
// (zh-CN, newest first) and a program at GET /messages (JSON, newest first).
// The outbox is kept in a file when Config.File is set (the local stack uses
// .local/outbox.json, so messages survive a restart like the tables do), else
// in memory.
package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// SMSConfig is the Tencent Cloud SMS account the sandbox plays.
type SMSConfig struct {
	SecretID, SecretKey string // the API key pair requests must be signed with
	SdkAppID            string // the only SmsSdkAppId accepted
	SignName            string // the only approved signature
	// Templates are the approved templates: id -> text with {1}, {2}, …
	// placeholders (the outbox shows the text filled in). Empty: any template
	// id is accepted and shown by its parameters.
	Templates map[string]string
	// DailyLimitPerPhone caps messages per number per Asia/Shanghai day (as
	// the console's frequency limit does; LimitExceeded.PhoneNumberDailyLimit
	// past it). 0: no cap.
	DailyLimitPerPhone int
}

// EmailConfig is the SES account the sandbox plays.
type EmailConfig struct {
	// Identities are the verified identities (domains or addresses) mail may
	// be sent from; anything else is MessageRejected. Empty: any sender.
	Identities []string
}

// Config configures a Server.
type Config struct {
	SMS   SMSConfig
	Email EmailConfig
	// WeChatOA is the official accounts' app secrets by app id (stable_token); empty: any.
	WeChatOA map[string]string
	File     string           // where the outbox is kept; "" keeps it in memory
	Max      int              // messages kept, newest; default 1000
	Now      func() time.Time // sent_at and signature windows; default time.Now
	// Logger gets one line per message (recipient and channel, never the
	// content: it holds codes and links).
	Logger *slog.Logger
}

// Message is one message in the outbox, as GET /messages shows it.
type Message struct {
	ID       string   `json:"id"`
	Channel  string   `json:"channel"` // "email" | "sms" | "wechat_oa"
	To       string   `json:"to"`      // e-mail address(es), or the number as sent (E.164, +86…)
	From     string   `json:"from"`    // e-mail sender, or the SMS signature
	Subject  string   `json:"subject"` // e-mail
	Template string   `json:"template"`
	Body     string   `json:"body"`           // e-mail text; SMS text when the template is known
	HTML     string   `json:"html,omitempty"` // e-mail HTML body
	Params   []string `json:"params"`         // SMS template parameters
	SentAt   string   `json:"sent_at"`        // RFC 3339, +08:00
}

// Server is the outbox sandbox; safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	msgs []Message // oldest first

	oa oaState
}

// New creates the server, loading the outbox from cfg.File when it exists.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Max <= 0 {
		cfg.Max = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "outbox"), oa: oaState{tokens: map[string]time.Time{}, fail: map[string]int{}}}
	if cfg.File != "" {
		b, err := os.ReadFile(cfg.File)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			var saved []Message // as written: newest first
			if err := json.Unmarshal(b, &saved); err != nil {
				return nil, fmt.Errorf("outbox: %s: %w", cfg.File, err)
			}
			for i := len(saved) - 1; i >= 0; i-- {
				s.msgs = append(s.msgs, saved[i])
			}
		}
	}
	return s, nil
}

// Handler serves both providers' APIs and the outbox.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/email/outbound-emails", s.handleSESSend)
	mux.HandleFunc("POST /{$}", s.handleTencent)
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("GET /messages", s.handleMessages)
	mux.HandleFunc("POST /cgi-bin/stable_token", s.handleStableToken)
	mux.HandleFunc("POST /cgi-bin/message/template/send", s.handleTemplateSend)
	mux.HandleFunc("POST /sandbox/wechat-oa/fail", s.handleOAFail)
	mux.HandleFunc("POST /sandbox/wechat-oa/expire-tokens", s.handleOAExpire)
	return mux
}

// Messages returns the outbox, newest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newestFirst()
}

func (s *Server) newestFirst() []Message {
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[len(s.msgs)-1-i] = m
	}
	return out
}

// add records m (ID and SentAt filled in) and persists the outbox.
func (s *Server) add(m Message) (Message, error) {
	m.ID = randomHex(12)
	m.SentAt = calendar.Format(s.cfg.Now())
	if m.Params == nil {
		m.Params = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	if len(s.msgs) > s.cfg.Max {
		s.msgs = append([]Message(nil), s.msgs[len(s.msgs)-s.cfg.Max:]...)
	}
	if err := s.save(); err != nil {
		s.msgs = s.msgs[:len(s.msgs)-1]
		return Message{}, err
	}
	s.log.Info("message", "channel", m.Channel, "to", m.To, "id", m.ID)
	return m, nil
}

// save writes the outbox (newest first) atomically; the caller holds mu.
func (s *Server) save() error {
	if s.cfg.File == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.newestFirst(), "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.cfg.File), 0o755); err != nil {
		return err
	}
	tmp := s.cfg.File + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.cfg.File)
}

// sentToday counts SMS to phone on the current Asia/Shanghai day.
func (s *Server) sentToday(phone string) int {
	day := calendar.BusinessDay(s.cfg.Now())
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.Channel != "sms" || m.To != phone {
			continue
		}
		if t, err := time.Parse(time.RFC3339, m.SentAt); err == nil && calendar.BusinessDay(t) == day {
			n++
		}
	}
	return n
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // readable with curl; nosniff keeps browsers from taking it for HTML
	_ = enc.Encode(s.Messages())
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
