package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// response is a function result translated to HTTP.
type response struct {
	status int
	header http.Header
	body   []byte
}

// parseResponse interprets a payload format 2.0 function result. A JSON
// object with statusCode is a full response; any other valid JSON is a 200
// application/json response whose body is the JSON (or, for a JSON string,
// the string itself), as API Gateway infers it.
func parseResponse(out []byte) (*response, error) {
	out = bytes.TrimSpace(out)
	if !json.Valid(out) {
		return nil, errors.New("response is not valid JSON")
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(out, &fields) != nil || fields["statusCode"] == nil {
		body := out
		var s string
		if json.Unmarshal(out, &s) == nil {
			body = []byte(s)
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		return &response{status: http.StatusOK, header: h, body: body}, nil
	}
	var ev events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &ev); err != nil {
		return nil, fmt.Errorf("response fields: %w", err)
	}
	if ev.StatusCode < 100 || ev.StatusCode > 599 {
		return nil, fmt.Errorf("statusCode %d out of range", ev.StatusCode)
	}
	resp := &response{status: ev.StatusCode, header: http.Header{}}
	for k, vs := range ev.MultiValueHeaders {
		for _, v := range vs {
			resp.header.Add(k, v)
		}
	}
	for k, v := range ev.Headers {
		resp.header.Set(k, v)
	}
	for _, c := range ev.Cookies {
		resp.header.Add("Set-Cookie", c)
	}
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("body is not valid base64: %w", err)
		}
		resp.body = b
	} else {
		resp.body = []byte(ev.Body)
	}
	return resp, nil
}

func (resp *response) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range resp.header {
		h[k] = append(h[k], vs...)
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // no sniffing: send what the function said
	}
	if bodyAllowed(resp.status) {
		h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
