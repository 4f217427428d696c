package sqsemu

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const targetPrefix = "AmazonSQS."

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "sqsemu: only POST is supported", http.StatusMethodNotAllowed)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok {
		writeError(w, &apiError{typ: "UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation",
			msg: fmt.Sprintf("missing or unknown X-Amz-Target %q (only the JSON protocol is supported)", target)})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxMessageBytes*maxBatchEntries))
	if err != nil {
		writeError(w, errInvalidParameter("reading request body: "+err.Error()))
		return
	}
	base := s.baseFor(r)
	var out any
	switch op {
	case "GetQueueUrl":
		out, err = s.opGetQueueURL(body, base)
	case "ListQueues":
		out, err = s.opListQueues(body, base)
	case "GetQueueAttributes":
		out, err = s.opGetQueueAttributes(body)
	case "SendMessage":
		out, err = s.opSendMessage(body)
	case "SendMessageBatch":
		out, err = s.opSendMessageBatch(body)
	case "ReceiveMessage":
		out, err = s.opReceiveMessage(r.Context(), body)
	case "DeleteMessage":
		out, err = s.opDeleteMessage(body)
	case "DeleteMessageBatch":
		out, err = s.opDeleteMessageBatch(body)
	case "ChangeMessageVisibility":
		out, err = s.opChangeMessageVisibility(body)
	case "ChangeMessageVisibilityBatch":
		out, err = s.opChangeMessageVisibilityBatch(body)
	case "PurgeQueue":
		out, err = s.opPurgeQueue(body)
	default:
		err = &apiError{typ: "UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation",
			msg: "sqsemu does not implement " + op}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", newID())
	if err := json.NewEncoder(w).Encode(out); err != nil {
		// The client went away; nothing useful to do.
		return
	}
}

// baseFor is the configured base URL, or one derived from the request.
func (s *Server) baseFor(r *http.Request) string {
	s.mu.Lock()
	base := s.baseURL
	s.mu.Unlock()
	if base != "" {
		return base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{typ: "InvalidParameterValue", query: "InvalidParameterValue", msg: "malformed JSON request: " + err.Error()}
	}
	return nil
}

// queueFromURL resolves a QueueUrl (http://host/<account>/<name>, or a bare
// name) to a declared queue. The caller must hold s.mu.
func (s *Server) queueFromURL(raw string) (*queue, error) {
	if raw == "" {
		return nil, errMissingParameter("QueueUrl")
	}
	name := raw
	if u, err := url.Parse(raw); err == nil && u.Path != "" {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) == 2 && parts[0] != s.account {
			return nil, errQueueDoesNotExist()
		}
		name = parts[len(parts)-1]
	}
	q, ok := s.queues[name]
	if !ok {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}
