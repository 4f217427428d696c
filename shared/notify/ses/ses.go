// Package ses is the notify.Email adapter for Amazon SES (API v2, SendEmail):
// simple content, UTF-8 subject and bodies, from one verified identity.
//
// The client is aws-sdk-go-v2's sesv2 built from the function's AWS
// configuration (shared/platform.AWSConfig), so its endpoint follows the SDK's
// standard variables: AWS_ENDPOINT_URL_SESV2 (the local stack points it at the
// outbox sandbox), else AWS_ENDPOINT_URL, else SES in the function's region.
// The function's role needs ses:SendEmail on the identity (template.yaml).
package ses

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/estatepay/estatepay/shared/notify"
)

// Config configures a Sender.
type Config struct {
	// From is the sender: an address of a verified SES identity (the address
	// itself, or one in a verified domain), optionally with a display name,
	// e.g. "小区收款 <noreply@pay.example.com>" (a non-ASCII name is sent
	// RFC 2047-encoded, as SES requires).
	From string
	// ConfigurationSet is an optional SES configuration set (event
	// publishing); the role then also needs ses:SendEmail on it.
	ConfigurationSet string
}

// Environment variables ConfigFromEnv reads (the template sets SES_FROM_ADDRESS).
const (
	EnvFrom             = "SES_FROM_ADDRESS"
	EnvConfigurationSet = "SES_CONFIGURATION_SET"
)

// ConfigFromEnv reads a Config from the environment (getenv is os.Getenv).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{From: getenv(EnvFrom), ConfigurationSet: getenv(EnvConfigurationSet)}
	if cfg.From == "" {
		return cfg, fmt.Errorf("ses: missing environment variable %s", EnvFrom)
	}
	return cfg, nil
}

// API is the part of the sesv2 client the sender uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender sends e-mail through SES. It implements notify.Email.
type Sender struct {
	api  API
	from string
	cfg  Config
}

var _ notify.Email = (*Sender)(nil)

// NewFromConfig returns a sender using an sesv2 client built from awsCfg.
func NewFromConfig(awsCfg aws.Config, cfg Config) (*Sender, error) {
	return New(sesv2.NewFromConfig(awsCfg), cfg)
}

// New checks cfg and returns a sender calling api.
func New(api API, cfg Config) (*Sender, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("ses: sender %q: %w", cfg.From, err)
	}
	return &Sender{api: api, from: from.String(), cfg: cfg}, nil
}

// SendEmail sends m to one recipient. Text is required; HTML, when given, is
// sent as the alternative part.
func (s *Sender) SendEmail(ctx context.Context, m notify.EmailMessage) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil || to.Name != "" || strings.ContainsAny(m.To, "\r\n,;") {
		return errors.New("ses: the recipient is not one e-mail address")
	}
	if strings.TrimSpace(m.Subject) == "" || strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("ses: the subject is empty or spans lines")
	}
	if m.Text == "" {
		return errors.New("ses: no text body")
	}
	utf8 := aws.String("UTF-8")
	body := &types.Body{Text: &types.Content{Data: aws.String(m.Text), Charset: utf8}}
	if m.HTML != "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: utf8}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{to.Address}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: utf8},
			Body:    body,
		}},
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	if _, err := s.api.SendEmail(ctx, in); err != nil {
		return fmt.Errorf("ses: send email: %w", err)
	}
	return nil
}
