// Package tencentsms is the notify.SMS adapter for Tencent Cloud SMS (腾讯云短信):
// API 3.0 action SendSms, version 2021-01-11, a JSON POST to the endpoint signed
// with TC3-HMAC-SHA256 (implemented here with the standard library from
// Tencent's public documentation: the official SDK's SMS module is not
// available to this build, and the signature is small).
//
// The API key pair comes from a secret reference (shared/secrets: a Secrets
// Manager secret name, or file:// locally) holding
// {"secret_id": "AKID…", "secret_key": "…"}; it is loaded per send through
// the loader's cache, so a rotated key is picked up within the cache's lifetime.
//
// A message is a template approved in the SMS console (TemplateId) with its
// parameters, sent under an approved signature (SignName, shown as 【SignName】)
// from an SMS application (SmsSdkAppId). The per-number status Tencent
// returns is mapped to errors: Ok is success; anything else is an *Error whose
// code is matched by ErrRateLimited (LimitExceeded.*, e.g.
// LimitExceeded.PhoneNumberDailyLimit), ErrBadPhone (a number that cannot
// receive) or ErrUnavailable (retry later).
package tencentsms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/notify"
)

// The API this adapter calls.
const (
	DefaultEndpoint = "https://sms.tencentcloudapi.com"
	DefaultRegion   = "ap-guangzhou"
	Service         = "sms"
	Action          = "SendSms"
	Version         = "2021-01-11"
)

// Config configures a Client.
type Config struct {
	Endpoint  string // API base URL; default DefaultEndpoint
	Region    string // X-TC-Region: ap-guangzhou (default), ap-beijing or ap-nanjing
	SdkAppID  string // SmsSdkAppId, e.g. "1400006666"
	SignName  string // approved signature, without 【】
	SecretRef string // secret reference holding the Credential JSON

	HTTPClient *http.Client     // default: 10 s timeout
	Now        func() time.Time // signature timestamps; default time.Now
}

// Secrets loads secret references (shared/secrets.Loader).
type Secrets interface {
	Load(ctx context.Context, ref string) ([]byte, error)
}

// Client sends SMS through SendSms. It implements notify.SMS.
type Client struct {
	cfg      Config
	secrets  Secrets
	endpoint string
	host     string
}

var _ notify.SMS = (*Client)(nil)

// New checks cfg and returns a client.
func New(cfg Config, secrets Secrets) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var missing []string
	for name, v := range map[string]string{"SdkAppID": cfg.SdkAppID, "SignName": cfg.SignName, "SecretRef": cfg.SecretRef} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("tencentsms: missing configuration %s", strings.Join(missing, ", "))
	}
	if secrets == nil {
		return nil, errors.New("tencentsms: no secret loader")
	}
	endpoint := strings.TrimSuffix(cfg.Endpoint, "/")
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", nil)
	if err != nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") || req.URL.Host == "" {
		return nil, fmt.Errorf("tencentsms: bad endpoint %q", cfg.Endpoint)
	}
	return &Client{cfg: cfg, secrets: secrets, endpoint: endpoint + "/", host: req.URL.Host}, nil
}

// Environment variables ConfigFromEnv reads (the template sets them).
const (
	EnvEndpoint  = "TENCENT_SMS_ENDPOINT"
	EnvRegion    = "TENCENT_SMS_REGION"
	EnvSdkAppID  = "TENCENT_SMS_SDK_APP_ID"
	EnvSignName  = "TENCENT_SMS_SIGN_NAME"
	EnvSecretRef = "TENCENT_SMS_SECRET_REF"
)

// ConfigFromEnv reads a Config from the environment (getenv is os.Getenv);
// it names every missing required variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Endpoint: getenv(EnvEndpoint), Region: getenv(EnvRegion), SdkAppID: getenv(EnvSdkAppID),
		SignName: getenv(EnvSignName), SecretRef: getenv(EnvSecretRef)}
	var missing []string
	for _, v := range [][2]string{{EnvSdkAppID, cfg.SdkAppID}, {EnvSignName, cfg.SignName}, {EnvSecretRef, cfg.SecretRef}} {
		if v[1] == "" {
			missing = append(missing, v[0])
		}
	}
	if len(missing) > 0 {
		return cfg, fmt.Errorf("tencentsms: missing environment variables %s", strings.Join(missing, ", "))
	}
	return cfg, nil
}

// Error is a refusal from Tencent Cloud: an API error (Response.Error) or a
// number's send status other than Ok.
type Error struct {
	Code      string // e.g. LimitExceeded.PhoneNumberDailyLimit
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tencentsms: %s: %s (RequestId %s)", e.Code, e.Message, e.RequestID)
}

// Errors an *Error matches with errors.Is, by its code.
var (
	// ErrRateLimited: a sending limit was reached (per number per 30 s, hour
	// or day, per app, or the API's request rate). Tell the person to wait.
	ErrRateLimited = errors.New("tencentsms: sending limit reached")
	// ErrBadPhone: the number is malformed, not supported or blocked
	// (unsubscribed, blacklisted).
	ErrBadPhone = errors.New("tencentsms: the number cannot receive SMS")
	// ErrUnavailable: the service failed or could not be reached; retry later.
	ErrUnavailable = errors.New("tencentsms: service unavailable")
)

// Is matches the error categories by code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return strings.HasPrefix(e.Code, "LimitExceeded.") || e.Code == "RequestLimitExceeded"
	case ErrBadPhone:
		switch e.Code {
		case "InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberInBlacklist",
			"FailedOperation.PhoneNumberOnBlacklist", "FailedOperation.PhoneNumberParseFail",
			"UnsupportedOperation.UnsupportedRegion":
			return true
		}
		return false
	case ErrUnavailable:
		return strings.HasPrefix(e.Code, "InternalError") || e.Code == "FailedOperation.FailResolvePacket"
	}
	return false
}

type sendRequest struct {
	PhoneNumberSet   []string `json:"PhoneNumberSet"`
	SmsSdkAppID      string   `json:"SmsSdkAppId"`
	SignName         string   `json:"SignName"`
	TemplateID       string   `json:"TemplateId"`
	TemplateParamSet []string `json:"TemplateParamSet"`
}

type sendResponse struct {
	Response struct {
		Error *struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
		SendStatusSet []struct {
			SerialNo    string `json:"SerialNo"`
			PhoneNumber string `json:"PhoneNumber"`
			Code        string `json:"Code"`
			Message     string `json:"Message"`
		} `json:"SendStatusSet"`
		RequestID string `json:"RequestId"`
	} `json:"Response"`
}

// SendSMS sends the template to m.Phone (11-digit mainland number, or E.164
// "+86…"). Parameters are sent as strings, in order.
func (c *Client) SendSMS(ctx context.Context, m notify.SMSMessage) error {
	phone, err := E164(m.Phone)
	if err != nil {
		return err
	}
	if m.TemplateID == "" {
		return errors.New("tencentsms: no template id")
	}
	raw, err := c.secrets.Load(ctx, c.cfg.SecretRef)
	if err != nil {
		return fmt.Errorf("tencentsms: load API key: %w", err)
	}
	var cred Credential
	if err := json.Unmarshal(raw, &cred); err != nil || cred.SecretID == "" || cred.SecretKey == "" {
		return errors.New(`tencentsms: the API key secret is not {"secret_id","secret_key"}`)
	}
	params := m.Params
	if params == nil {
		params = []string{}
	}
	body, err := json.Marshal(sendRequest{PhoneNumberSet: []string{phone}, SmsSdkAppID: c.cfg.SdkAppID, SignName: c.cfg.SignName,
		TemplateID: m.TemplateID, TemplateParamSet: params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := c.cfg.Now().Unix()
	const contentType = "application/json; charset=utf-8"
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-TC-Action", Action)
	req.Header.Set("X-TC-Version", Version)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-TC-Region", c.cfg.Region)
	signed := Signed{Method: http.MethodPost, Path: "/", Payload: body, Service: Service, Timestamp: ts,
		Headers: map[string]string{"content-type": contentType, "host": c.host, "x-tc-action": Action}}
	req.Header.Set("Authorization", signed.Authorization(cred))

	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: read response: %v", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	var out sendResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("%w: malformed response: %v", ErrUnavailable, err)
	}
	r := out.Response
	if r.Error != nil {
		return &Error{Code: r.Error.Code, Message: r.Error.Message, RequestID: r.RequestID}
	}
	for _, st := range r.SendStatusSet {
		if st.PhoneNumber != phone {
			continue
		}
		if st.Code == "Ok" {
			return nil
		}
		return &Error{Code: st.Code, Message: st.Message, RequestID: r.RequestID}
	}
	return &Error{Code: "InternalError.NoSendStatus", Message: "no send status for the number", RequestID: r.RequestID}
}

// E164 returns a mainland mobile number as E.164 (+86 and 11 digits starting
// with 1); a number already in E.164 (+ and 6 to 15 digits) is kept.
func E164(phone string) (string, error) {
	p := strings.TrimSpace(phone)
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	switch {
	case len(p) == 11 && p[0] == '1' && digits(p):
		return "+86" + p, nil
	case strings.HasPrefix(p, "+") && len(p) >= 7 && len(p) <= 16 && digits(p[1:]):
		return p, nil
	}
	return "", fmt.Errorf("%w: not a mobile number", ErrBadPhone)
}
