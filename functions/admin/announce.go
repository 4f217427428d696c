package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/voice"
	"github.com/estatepay/estatepay/shared/web"
	"github.com/estatepay/estatepay/shared/web/console"
)

// 收款播报, the spoken payment announcements (issue 13): AnnounceFunction
// writes one announcement per payment for the company (the cashier
// console) and one for the manager whose code took it; the pages poll for
// the new ones, list them and speak them (announce.js).
//
//	GET /admin/announce                    the console's page (staff who see the records: admins, cashiers)
//	GET /admin/api/announcements?since=    the company's announcements after the cursor
//	GET /m/api/announcements?since=        a business manager's own (the app's home, 收款码)
//	GET /admin/voice/{key}.wav             a clip (public, cached for good: the URL carries the set's version)
//	GET /admin/announce.js?v=              the console page's script (public, cached for good likewise)
func init() {
	register(
		route{method: "GET", pattern: "/admin/announce", action: ActRecordsView, handle: (*Handler).announcePage},
		route{method: "GET", pattern: "/admin/api/announcements", action: ActRecordsView, handle: (*Handler).apiAnnouncements},
		route{method: "GET", pattern: "/m/api/announcements", action: ActOwnRecords, handle: (*Handler).apiMyAnnouncements},
		route{method: "GET", pattern: "/admin/voice/{clip}", public: true, handle: (*Handler).voiceClip},
		route{method: "GET", pattern: "/admin/announce.js", public: true, handle: (*Handler).announceScript},
	)
}

// Announcements reads an audience's announcements (store.Announcements).
type Announcements interface {
	Since(ctx context.Context, audience, cursor string, now time.Time) (store.AnnouncementPage, error)
}

// announceJS is the pages' script: a file of its own on the console page
// (whose policy allows scripts from our origin), part of the managers' app's
// inlined script (allowed by its hash).
//
//go:embed announce.js
var announceJS string

// announceJSVersion names the script's content in its URL.
var announceJSVersion = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(announceJS))
	return hex.EncodeToString(sum[:6])
})

// announceScript is GET /admin/announce.js.
func (h *Handler) announceScript(_ context.Context, c *call) web.Response {
	r := web.Text(http.StatusOK, announceJS)
	r.Headers["Content-Type"] = "text/javascript; charset=utf-8"
	r.Headers["Cache-Control"] = "no-cache"
	if c.req.QueryStringParameters["v"] == announceJSVersion() {
		r.Headers["Cache-Control"] = "public, max-age=31536000, immutable"
	}
	return r
}

// AnnouncementJSON is one announcement of the polls' answer.
type AnnouncementJSON struct {
	ID            string   `json:"id"` // the payment event's id: the page drops repeats by it
	Text          string   `json:"text"`
	Spoken        string   `json:"spoken"`
	Clips         []string `json:"clips"` // the clip keys, in order (GET /admin/voice/<key>.wav)
	AmountFen     int64    `json:"amount_fen"`
	Amount        string   `json:"amount"`
	Channel       string   `json:"channel"`
	CommunityID   string   `json:"community_id"`
	CommunityName string   `json:"community_name,omitempty"`
	OccurredAt    string   `json:"occurred_at"`
	Time          string   `json:"time"` // 15:04:05, Asia/Shanghai
}

type announcementsJSON struct {
	Items  []AnnouncementJSON `json:"items"`
	Cursor string             `json:"cursor"`
}

func (h *Handler) announcements(ctx context.Context, c *call, audience string) web.Response {
	if h.Announcements == nil {
		return h.fail(c, http.StatusNotImplemented, "not_implemented", "该功能即将上线")
	}
	since := c.req.QueryStringParameters["since"]
	if len(since) > 300 {
		return h.fail(c, http.StatusBadRequest, "bad_cursor", "播报位置无效，请刷新页面")
	}
	page, err := h.Announcements.Since(ctx, audience, since, time.Now())
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return h.fail(c, http.StatusBadRequest, "bad_cursor", "播报位置无效，请刷新页面")
	case err != nil:
		return h.internal(ctx, c, "announcements", err)
	}
	out := announcementsJSON{Items: []AnnouncementJSON{}, Cursor: page.Cursor}
	for _, a := range page.Items {
		clips := a.Tokens
		if clips == nil {
			clips = []string{}
		}
		out.Items = append(out.Items, AnnouncementJSON{ID: a.EventID, Text: a.Text, Spoken: a.Spoken, Clips: clips,
			AmountFen: a.AmountFen, Amount: domain.FormatYuan(a.AmountFen), Channel: a.Channel,
			CommunityID: a.CommunityID, CommunityName: a.CommunityName,
			OccurredAt: calendar.Format(a.OccurredAt), Time: calendar.Local(a.OccurredAt).Format("15:04:05")})
	}
	return noStore(web.JSON(http.StatusOK, out))
}

// apiAnnouncements is GET /admin/api/announcements: the caller's company's.
func (h *Handler) apiAnnouncements(ctx context.Context, c *call) web.Response {
	if c.p.CompanyID == "" {
		return h.fail(c, http.StatusForbidden, "forbidden", "收款播报供物业公司员工使用")
	}
	return h.announcements(ctx, c, store.CompanyAudience(c.p.CompanyID))
}

// apiMyAnnouncements is GET /m/api/announcements: the payments of the
// manager's own codes.
func (h *Handler) apiMyAnnouncements(ctx context.Context, c *call) web.Response {
	if c.p.CompanyID == "" || c.p.StaffID == "" {
		return h.fail(c, http.StatusForbidden, "forbidden", "没有权限")
	}
	return h.announcements(ctx, c, store.ManagerAudience(c.p.CompanyID, c.p.StaffID))
}

// voiceClip is GET /admin/voice/{key}.wav.
func (h *Handler) voiceClip(_ context.Context, c *call) web.Response {
	key, ok := strings.CutSuffix(c.params["clip"], ".wav")
	var b []byte
	if ok {
		b, ok = voice.Clip(key)
	}
	if !ok {
		return web.Error(http.StatusNotFound, "not_found", "没有这段语音")
	}
	r := web.Response{StatusCode: http.StatusOK, Body: base64.StdEncoding.EncodeToString(b), IsBase64Encoded: true,
		Headers: map[string]string{"Content-Type": "audio/wav", "X-Content-Type-Options": "nosniff"}}
	r.Headers["Cache-Control"] = "no-cache"
	if c.req.QueryStringParameters["v"] == voice.Version() {
		r.Headers["Cache-Control"] = "public, max-age=31536000, immutable"
	}
	return r
}

// announceAttrs configure announce.js on a page.
type announceAttrs struct {
	API          string // the poll endpoint
	VoiceBase    string // "/admin/voice/"
	VoiceVersion string
}

func newAnnounceAttrs(api string) announceAttrs {
	return announceAttrs{API: api, VoiceBase: "/admin/voice/", VoiceVersion: voice.Version()}
}

type announcePageBody struct {
	announceAttrs
	Communities []deskOption
	Script      string // the script's URL
}

// announcePage is GET /admin/announce: the switch, the community filter
// and the list; the cashier desk links to it.
func (h *Handler) announcePage(ctx context.Context, c *call) web.Response {
	if c.p.CompanyID == "" {
		return h.fail(c, http.StatusForbidden, "forbidden", "收款播报供物业公司员工使用")
	}
	cms, err := h.Store.ListCommunities(ctx, c.p.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "list communities", err)
	}
	b := announcePageBody{announceAttrs: newAnnounceAttrs("/admin/api/announcements"), Script: "/admin/announce.js?v=" + announceJSVersion()}
	for _, cm := range cms {
		if cm.CompanyID == c.p.CompanyID {
			b.Communities = append(b.Communities, deskOption{Value: cm.ID, Label: cm.Name})
		}
	}
	r := h.render(http.StatusOK, "announce.html", h.page(c, "收款播报", &b))
	if r.StatusCode == http.StatusOK {
		r.Headers["Content-Security-Policy"] = announceCSP()
	}
	return r
}

// announceCSP is the console's policy with scripts from our origin (the
// page's one file; still no inline script) and fetches (the polls, the
// clips) to our origin.
func announceCSP() string {
	return strings.Replace(console.CSP(), "script-src 'none'", "script-src 'self'; connect-src 'self'", 1)
}
