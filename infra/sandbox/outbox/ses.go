package outbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// sesError answers like SES v2 (REST-JSON): the error type in
// X-Amzn-ErrorType, {"message"} in the body.
func sesError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("X-Amzn-ErrorType", errType)
	writeJSON(w, status, map[string]string{"message": msg})
}

var (
	sigV4Credential = regexp.MustCompile(`^[A-Za-z0-9]{1,128}/([0-9]{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request$`)
	sigV4Header     = regexp.MustCompile(`^[a-z0-9-]+(;[a-z0-9-]+)*$`)
	sigV4Signature  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// checkSigV4 checks that the request carries a well-formed AWS Signature
// Version 4 for SES (the sandbox does not know the caller's secret key, so
// it cannot check the signature itself): the algorithm, a credential scope
// for service "ses" dated as X-Amz-Date, signed headers that include host and
// x-amz-date, and a 64-hex-digit signature. It returns "" when it holds.
func checkSigV4(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "Missing Authentication Token"
	}
	rest, ok := strings.CutPrefix(v, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "Authorization header requires the AWS4-HMAC-SHA256 algorithm"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Sprintf("Authorization header field %q is not key=value", strings.TrimSpace(part))
		}
		fields[k] = val
	}
	cred := sigV4Credential.FindStringSubmatch(fields["Credential"])
	if cred == nil {
		return "Authorization header requires Credential=<access key>/<yyyymmdd>/<region>/<service>/aws4_request"
	}
	if cred[3] != "ses" {
		return fmt.Sprintf("Credential should be scoped to correct service: 'ses', not %q", cred[3])
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if _, err := time.Parse("20060102T150405Z", amzDate); err != nil {
		return "X-Amz-Date header is missing or not yyyymmddThhmmssZ"
	}
	if !strings.HasPrefix(amzDate, cred[1]) {
		return "Credential date does not match X-Amz-Date"
	}
	sh := fields["SignedHeaders"]
	if !sigV4Header.MatchString(sh) {
		return "Authorization header requires SignedHeaders=<lower-case names separated by ;>"
	}
	names := strings.Split(sh, ";")
	signsHost, signsDate := false, false
	for i, n := range names {
		if i > 0 && names[i-1] >= n {
			return "SignedHeaders must be sorted and distinct"
		}
		signsHost = signsHost || n == "host"
		signsDate = signsDate || n == "x-amz-date"
	}
	if !signsHost || !signsDate {
		return "SignedHeaders must include host and x-amz-date"
	}
	if !sigV4Signature.MatchString(fields["Signature"]) {
		return "Authorization header requires Signature=<64 lower-case hex digits>"
	}
	return ""
}

type sesContent struct {
	Data    *string `json:"Data"`
	Charset string  `json:"Charset"`
}

type sesSendEmail struct {
	FromEmailAddress string `json:"FromEmailAddress"`
	Destination      *struct {
		ToAddresses  []string `json:"ToAddresses"`
		CcAddresses  []string `json:"CcAddresses"`
		BccAddresses []string `json:"BccAddresses"`
	} `json:"Destination"`
	Content struct {
		Simple *struct {
			Subject *sesContent `json:"Subject"`
			Body    *struct {
				Text *sesContent `json:"Text"`
				HTML *sesContent `json:"Html"`
			} `json:"Body"`
		} `json:"Simple"`
		Raw      json.RawMessage `json:"Raw"`
		Template json.RawMessage `json:"Template"`
	} `json:"Content"`
}

func (c *sesContent) text() string {
	if c == nil || c.Data == nil {
		return ""
	}
	return *c.Data
}

// handleSESSend is SES v2 SendEmail with simple content.
func (s *Server) handleSESSend(w http.ResponseWriter, r *http.Request) {
	if msg := checkSigV4(r); msg != "" {
		sesError(w, http.StatusForbidden, "IncompleteSignatureException", msg)
		return
	}
	var in sesSendEmail
	if err := json.NewDecoder(io.LimitReader(r.Body, 10<<20)).Decode(&in); err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "request body is not JSON: "+err.Error())
		return
	}
	simple := in.Content.Simple
	switch {
	case simple == nil && (in.Content.Raw != nil || in.Content.Template != nil):
		sesError(w, http.StatusBadRequest, "BadRequestException", "the sandbox accepts Simple content only (estatepay sends no Raw or Template mail)")
		return
	case simple == nil:
		sesError(w, http.StatusBadRequest, "BadRequestException", "Content is required")
		return
	case in.FromEmailAddress == "":
		sesError(w, http.StatusBadRequest, "BadRequestException", "FromEmailAddress is required with Simple content")
		return
	case in.Destination == nil || len(in.Destination.ToAddresses)+len(in.Destination.CcAddresses)+len(in.Destination.BccAddresses) == 0:
		sesError(w, http.StatusBadRequest, "BadRequestException", "Destination needs at least one address")
		return
	case simple.Subject.text() == "":
		sesError(w, http.StatusBadRequest, "BadRequestException", "Subject is required")
		return
	case simple.Body == nil || (simple.Body.Text.text() == "" && simple.Body.HTML.text() == ""):
		sesError(w, http.StatusBadRequest, "BadRequestException", "Body needs Text or Html")
		return
	}
	from, err := mail.ParseAddress(in.FromEmailAddress)
	if err != nil {
		sesError(w, http.StatusBadRequest, "BadRequestException", "Illegal address in FromEmailAddress")
		return
	}
	if !s.verified(from.Address) {
		sesError(w, http.StatusBadRequest, "MessageRejected", "Email address is not verified. The following identities failed the check: "+from.Address)
		return
	}
	var to []string
	for _, list := range [][]string{in.Destination.ToAddresses, in.Destination.CcAddresses, in.Destination.BccAddresses} {
		for _, a := range list {
			if _, err := mail.ParseAddress(a); err != nil {
				sesError(w, http.StatusBadRequest, "BadRequestException", "Illegal address")
				return
			}
			to = append(to, a)
		}
	}
	sender := from.Address
	if from.Name != "" {
		sender = from.Name + " <" + from.Address + ">"
	}
	m, err := s.add(Message{Channel: "email", To: strings.Join(to, ", "), From: sender, Subject: simple.Subject.text(),
		Body: simple.Body.Text.text(), HTML: simple.Body.HTML.text()})
	if err != nil {
		s.log.Error("outbox: record e-mail", "err", err)
		sesError(w, http.StatusInternalServerError, "InternalFailure", "the sandbox could not record the message")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"MessageId": m.ID})
}

// verified reports whether addr is, or is in a domain of, a verified identity.
func (s *Server) verified(addr string) bool {
	ids := s.cfg.Email.Identities
	if len(ids) == 0 {
		return true
	}
	addr = strings.ToLower(addr)
	_, domain, _ := strings.Cut(addr, "@")
	for _, id := range ids {
		id = strings.ToLower(id)
		if id == addr || id == domain {
			return true
		}
	}
	return false
}
