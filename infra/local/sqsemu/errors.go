package sqsemu

import (
	"encoding/json"
	"net/http"
)

// apiError is an SQS error as the JSON protocol carries it: the shape name
// in __type and, because SQS is awsQueryCompatible, the legacy query error
// code in the x-amzn-query-error header.
type apiError struct {
	status int    // default 400
	typ    string // shape name, e.g. QueueDoesNotExist
	query  string // legacy code, e.g. AWS.SimpleQueueService.NonExistentQueue
	msg    string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func errQueueDoesNotExist() error {
	return &apiError{typ: "QueueDoesNotExist", query: "AWS.SimpleQueueService.NonExistentQueue",
		msg: "The specified queue does not exist."}
}

func errInvalidParameter(msg string) error {
	return &apiError{typ: "InvalidParameterValue", query: "InvalidParameterValue", msg: msg}
}

// errNotForQueueType is SQS's answer to a parameter the queue's type (FIFO or
// standard) does not take.
func errNotForQueueType(param, value string) error {
	return errInvalidParameter("Value " + value + " for parameter " + param +
		" is invalid. Reason: The request include parameter that is not valid for this queue type.")
}

func errMissingParameter(name string) error {
	return &apiError{typ: "MissingParameter", query: "MissingParameter",
		msg: "The request must contain the parameter " + name + "."}
}

func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{status: http.StatusInternalServerError, typ: "InternalError", query: "InternalError", msg: err.Error()}
	}
	status := e.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Query-Error", e.query+";"+fault)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{"com.amazonaws.sqs#" + e.typ, e.msg})
}
