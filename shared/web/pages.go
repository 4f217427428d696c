package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed pages/*.html
var pageFS embed.FS

var pages = template.Must(template.ParseFS(pageFS, "pages/*.html"))

// MessagePage is a page with one message and no form (C3).
type MessagePage struct {
	Title, Community, Message string
}

// PayPage is the amount form (C4).
type PayPage struct {
	Title, Community, Company string
	Token, Channel, PayerID   string
	MaxFen                    int64
}

// ResultPage polls an order until it is paid or closed.
type ResultPage struct {
	Title, Community, OrderID string
}

// Render renders a page; name is "message.html", "pay.html" or "result.html".
func Render(status int, name string, data any) Response {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		return Error(http.StatusInternalServerError, "internal", "page rendering failed")
	}
	return HTMLPage(status, buf.Bytes())
}
