package qrprint

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"sync"

	"github.com/estatepay/estatepay/shared/domain"
)

// Paper is a poster size.
type Paper string

const (
	A4 Paper = "A4"
	A5 Paper = "A5"
)

// ParsePaper reads a paper size ("A4", "a5"); anything else is A4.
func ParsePaper(s string) Paper {
	if strings.EqualFold(s, string(A5)) {
		return A5
	}
	return A4
}

// Poster is what the printable poster shows.
type Poster struct {
	Community, Company string
	URL                string              // the code's URL, encoded in the QR
	Apps               domain.Availability // which apps can pay (C2)
	Fields             []string            // labels of the payer fields the page asks for (M5), e.g. 房号
	Paper              Paper
	// Query is the page's other query parameters (e.g. "code=…"), kept in
	// the links that switch the paper size.
	Query url.Values
	// Title and Page name what scanning does ("" for a community's code:
	// 扫码缴费, 本小区缴费页面); a business manager's code plate (码牌)
	// says 扫码付款 and 付款页面.
	Title, Page string
	// Fenfu: the merchant accepts 分付: the code carries the blue 「分」 mark
	// and the grey payment note (fenfu.go).
	Fenfu bool
}

// PosterCSP is the Content-Security-Policy of the poster page: no scripts,
// its own inline style, nothing loaded from anywhere.
const PosterCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

//go:embed poster.html
var posterSource string

var posterTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("poster.html").Parse(posterSource))
})

type app struct{ Key, Name string }

type posterView struct {
	Title, Page        string
	Community, Company string
	Paper              Paper
	PaperClass         string
	Symbol             template.HTML
	Apps               []app
	AppsText           string // 微信或支付宝 / 微信 / 支付宝
	ScanMessage        string // C3's words for the apps that can pay
	NotOpen            bool
	HasFields          bool
	FieldsText         string
	A4Link, A5Link     string
	Fenfu              bool
	FenfuNote          string
}

// RenderPoster writes the poster page: an A4 or A5 sheet (print CSS @page)
// with the community, the apps accepted (C2), the QR as inline SVG, the
// 扫码缴费 steps and the company that receives the money.
func RenderPoster(p Poster) ([]byte, error) {
	sym, err := StyledSymbol(p.URL, "qr-symbol", Style{Fenfu: p.Fenfu})
	if err != nil {
		return nil, err
	}
	if p.Paper != A5 {
		p.Paper = A4
	}
	if p.Title == "" {
		p.Title = "扫码缴费"
	}
	if p.Page == "" {
		p.Page = "本小区缴费页面"
	}
	v := posterView{
		Title: p.Title, Page: p.Page,
		Community: p.Community, Company: p.Company, Paper: p.Paper, PaperClass: strings.ToLower(string(p.Paper)),
		Symbol: sym, ScanMessage: domain.DecideLanding("", p.Apps).Message, NotOpen: !p.Apps.Any(),
		HasFields: len(p.Fields) > 0, FieldsText: strings.Join(p.Fields, "、"),
		A4Link: paperLink(p.Query, A4), A5Link: paperLink(p.Query, A5),
		Fenfu: p.Fenfu, FenfuNote: FenfuNote,
	}
	var names []string
	if p.Apps.WeChat {
		v.Apps = append(v.Apps, app{"wechat", "微信支付"})
		names = append(names, "微信")
	}
	if p.Apps.Alipay {
		v.Apps = append(v.Apps, app{"alipay", "支付宝"})
		names = append(names, "支付宝")
	}
	v.AppsText = strings.Join(names, "或")
	var buf bytes.Buffer
	if err := posterTemplate().Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("qrprint: poster: %w", err)
	}
	return buf.Bytes(), nil
}

func paperLink(q url.Values, p Paper) string {
	v := url.Values{}
	for k, vs := range q {
		if k != "paper" {
			v[k] = vs
		}
	}
	v.Set("paper", string(p))
	return "?" + v.Encode()
}
