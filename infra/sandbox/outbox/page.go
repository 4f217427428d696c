package outbox

import (
	"html/template"
	"net/http"
	"regexp"
	"time"

	"github.com/estatepay/estatepay/shared/domain/calendar"
)

// segment is a run of message text: plain, or a link a person can click
// (set-password links).
type segment struct {
	Text string
	URL  string
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"'，。；）]+`)

// segments splits text into plain runs and http(s) links. html/template
// escapes both, and filters the href as a URL.
func segments(text string) []segment {
	var out []segment
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(text, -1) {
		if loc[0] > last {
			out = append(out, segment{Text: text[last:loc[0]]})
		}
		out = append(out, segment{Text: text[loc[0]:loc[1]], URL: text[loc[0]:loc[1]]})
		last = loc[1]
	}
	if last < len(text) {
		out = append(out, segment{Text: text[last:]})
	}
	return out
}

type pageMessage struct {
	Message
	Kind   string // 邮件 | 短信
	When   string
	Pieces []segment
}

var page = template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>发件箱（本地沙箱）</title>
<style>
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f6f8;color:#222}
header{background:#fff;border-bottom:1px solid #e3e5e8;padding:12px 20px}
h1{font-size:18px;margin:0}
header p{margin:4px 0 0;color:#666;font-size:13px}
main{max-width:860px;margin:16px auto;padding:0 12px}
article{background:#fff;border:1px solid #e3e5e8;border-radius:6px;padding:12px 16px;margin-bottom:12px}
.meta{font-size:13px;color:#666}
.kind{display:inline-block;border-radius:3px;padding:0 6px;margin-right:6px;color:#fff;background:#3a7bd5}
.kind.sms{background:#1aad19}
h2{font-size:16px;margin:6px 0}
pre{white-space:pre-wrap;word-break:break-all;font-family:inherit;font-size:14px;margin:8px 0;background:#fafafa;padding:8px;border-radius:4px}
ol{margin:4px 0;padding-left:24px}
code{background:#f0f0f0;padding:0 4px}
.empty{color:#666;text-align:center;padding:40px 0}
</style>
</head>
<body>
<header>
<h1>发件箱（本地沙箱）</h1>
<p>本地运行时产品发出的短信（腾讯云短信沙箱）和邮件（Amazon SES 沙箱），最新的在最前。共 {{len .}} 条。<a href="">刷新</a> · <a href="messages">JSON</a></p>
</header>
<main>
{{range .}}<article>
<div class="meta"><span class="kind{{if eq .Channel "sms"}} sms{{end}}">{{.Kind}}</span><time datetime="{{.SentAt}}">{{.When}}</time></div>
{{if eq .Channel "email"}}<h2>{{.Subject}}</h2>
<div class="meta">收件人：{{.To}}　发件人：{{.From}}</div>
{{else}}<h2>发送至 {{.To}}</h2>
<div class="meta">签名：{{.From}}　模板：<code>{{.Template}}</code></div>
{{end}}{{if .Pieces}}<pre>{{range .Pieces}}{{if .URL}}<a href="{{.URL}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>{{end}}
{{if .Params}}<div class="meta">模板参数：</div><ol>{{range .Params}}<li><code>{{.}}</code></li>{{end}}</ol>{{end}}
{{if .HTML}}<details><summary class="meta">HTML 正文（源码）</summary><pre>{{.HTML}}</pre></details>{{end}}
</article>
{{else}}<p class="empty">还没有消息。</p>
{{end}}</main>
</body>
</html>
`))

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	msgs := s.Messages()
	view := make([]pageMessage, 0, len(msgs))
	for _, m := range msgs {
		pm := pageMessage{Message: m, Kind: "邮件", When: m.SentAt, Pieces: segments(m.Body)}
		if m.Channel == "sms" {
			pm.Kind = "短信"
		}
		if t, err := time.Parse(time.RFC3339, m.SentAt); err == nil {
			pm.When = calendar.FormatReadable(t)
		}
		view = append(view, pm)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := page.Execute(w, view); err != nil {
		s.log.Error("outbox page", "err", err)
	}
}
