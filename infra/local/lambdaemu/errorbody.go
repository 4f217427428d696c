package lambdaemu

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// functionError builds a FunctionError whose Payload is the standard error
// document.
func functionError(requestID, typ, msg string, payload []byte) *FunctionError {
	if payload == nil {
		payload, _ = json.Marshal(errorDoc{Message: msg, Type: typ})
	}
	return &FunctionError{RequestID: requestID, Type: typ, Message: msg, Payload: payload}
}

// parseErrorBody reads a Runtime API error body
// ({"errorMessage","errorType",...}); headerType is the
// Lambda-Runtime-Function-Error-Type header, used when the body has no type.
func parseErrorBody(requestID string, body []byte, headerType string) *FunctionError {
	var doc errorDoc
	if json.Unmarshal(body, &doc) != nil {
		// Not JSON: Lambda passes the type from the header and the raw body.
		typ := headerType
		if typ == "" {
			typ = "Unhandled"
		}
		return functionError(requestID, typ, string(body), nil)
	}
	if doc.Type == "" {
		doc.Type = headerType
	}
	if doc.Type == "" {
		doc.Type = "Unhandled"
	}
	return functionError(requestID, doc.Type, doc.Message, body)
}

// trailerError decodes the error a runtime reported in response trailers.
func trailerError(requestID string, trailer http.Header) *FunctionError {
	typ := trailer.Get(hdrErrorType)
	body, err := base64.StdEncoding.DecodeString(trailer.Get(hdrErrorBody))
	if err != nil || len(body) == 0 {
		return functionError(requestID, typ, "", nil)
	}
	return parseErrorBody(requestID, body, typ)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
