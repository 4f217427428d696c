// Package notify holds the ports through which the product reaches people:
// SMS (verification codes) and e-mail (registration links). Adapters: Tencent
// Cloud SMS (shared/notify/tencentsms) and Amazon SES v2 (shared/notify/ses);
// locally both reach the outbox sandbox (infra/sandbox/outbox).
package notify

import "context"

// SMSMessage is a templated text message to one phone (Chinese SMS providers
// send only pre-approved templates with parameters).
type SMSMessage struct {
	Phone      string   // mainland number, 11 digits
	TemplateID string   // the provider's approved template
	Params     []string // the template's parameters, in order
}

// EmailMessage is one e-mail.
type EmailMessage struct {
	To      string
	Subject string
	Text    string // plain-text body
	HTML    string // optional HTML body
}

// SMS sends text messages.
type SMS interface {
	SendSMS(ctx context.Context, m SMSMessage) error
}

// Email sends e-mail.
type Email interface {
	SendEmail(ctx context.Context, m EmailMessage) error
}
