package sqsemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

type batchResultError struct {
	ID          string `json:"Id"`
	Code        string `json:"Code"`
	Message     string `json:"Message,omitempty"`
	SenderFault bool   `json:"SenderFault"`
}

// ---- GetQueueUrl / ListQueues -------------------------------------------------

func (s *Server) opGetQueueURL(body []byte, base string) (any, error) {
	var in struct {
		QueueName              string
		QueueOwnerAWSAccountId string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	if in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != s.account {
		return nil, errQueueDoesNotExist()
	}
	s.mu.Lock()
	_, ok := s.queues[in.QueueName]
	s.mu.Unlock()
	if !ok {
		return nil, errQueueDoesNotExist()
	}
	return map[string]string{"QueueUrl": base + "/" + s.account + "/" + in.QueueName}, nil
}

func (s *Server) opListQueues(body []byte, base string) (any, error) {
	var in struct{ QueueNamePrefix string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	urls := []string{}
	for _, n := range s.QueueNames() {
		if strings.HasPrefix(n, in.QueueNamePrefix) {
			urls = append(urls, base+"/"+s.account+"/"+n)
		}
	}
	return map[string][]string{"QueueUrls": urls}, nil
}

// ---- GetQueueAttributes -------------------------------------------------------

var queueAttributeNames = []string{
	"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
	"ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "DelaySeconds",
	"LastModifiedTimestamp", "MaximumMessageSize", "MessageRetentionPeriod",
	"QueueArn", "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "VisibilityTimeout",
	"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
}

func (s *Server) opGetQueueAttributes(body []byte) (any, error) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	visible, inFlight, delayed := q.counts(s.now())
	all := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.created.Unix(), 10),
		"DelaySeconds":                          strconv.Itoa(q.cfg.DelaySeconds),
		"MaximumMessageSize":                    strconv.Itoa(maxMessageBytes),
		"MessageRetentionPeriod":                strconv.Itoa(int(q.cfg.MessageRetention / time.Second)),
		"QueueArn":                              q.arn,
		"ReceiveMessageWaitTimeSeconds":         "0",
		"VisibilityTimeout":                     strconv.Itoa(int(q.cfg.VisibilityTimeout / time.Second)),
	}
	if q.fifo != nil {
		all["FifoQueue"] = "true"
		all["ContentBasedDeduplication"] = strconv.FormatBool(q.cfg.ContentBasedDeduplication)
		all["DeduplicationScope"] = q.cfg.DeduplicationScope
		all["FifoThroughputLimit"] = q.cfg.FifoThroughputLimit
	}
	if q.cfg.DeadLetterQueue != "" {
		all["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`,
			s.QueueArn(q.cfg.DeadLetterQueue), q.cfg.MaxReceiveCount)
	}
	out := map[string]string{}
	for _, name := range in.AttributeNames {
		if name == "All" {
			out = all
			break
		}
		known := false
		for _, k := range queueAttributeNames {
			known = known || k == name
		}
		if !known {
			return nil, &apiError{typ: "InvalidAttributeName", query: "InvalidAttributeName",
				msg: "Unknown Attribute " + name + "."}
		}
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	return map[string]map[string]string{"Attributes": out}, nil
}

// ---- SendMessage / SendMessageBatch ------------------------------------------

type sendEntry struct {
	Id                     string
	MessageBody            string
	DelaySeconds           *int
	MessageAttributes      map[string]Attribute
	MessageGroupId         string
	MessageDeduplicationId string
}

type sendResult struct {
	Id                     string `json:"Id,omitempty"`
	MessageId              string `json:"MessageId"`
	MD5OfMessageBody       string `json:"MD5OfMessageBody"`
	MD5OfMessageAttributes string `json:"MD5OfMessageAttributes,omitempty"`
	SequenceNumber         string `json:"SequenceNumber,omitempty"`
}

func (s *Server) opSendMessage(body []byte) (any, error) {
	var in struct {
		QueueUrl string
		sendEntry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return s.sendEntryLocked(q, in.sendEntry)
}

func (s *Server) sendEntryLocked(q *queue, e sendEntry) (sendResult, error) {
	if err := validateMessage(e.MessageBody, e.MessageAttributes); err != nil {
		return sendResult{}, err
	}
	o := outgoing{body: e.MessageBody, attrs: e.MessageAttributes, group: e.MessageGroupId, dedupID: e.MessageDeduplicationId}
	delay := q.cfg.DelaySeconds
	if e.DelaySeconds != nil {
		if q.fifo != nil {
			return sendResult{}, errNotForQueueType("DelaySeconds", strconv.Itoa(*e.DelaySeconds))
		}
		delay = *e.DelaySeconds
	}
	if delay < 0 || delay > 900 {
		return sendResult{}, errInvalidParameter(fmt.Sprintf(
			"Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.", delay))
	}
	o.delay = time.Duration(delay) * time.Second
	if err := q.checkFIFOParams(&o); err != nil {
		return sendResult{}, err
	}
	id, seq := s.sendLocked(q, o)
	return sendResult{
		Id:                     e.Id,
		MessageId:              id,
		MD5OfMessageBody:       md5Hex(e.MessageBody),
		MD5OfMessageAttributes: md5OfAttributes(e.MessageAttributes),
		SequenceNumber:         seq,
	}, nil
}

// checkFIFOParams validates MessageGroupId and MessageDeduplicationId for the
// queue's type and, on a content-deduplicated FIFO queue without an explicit
// id, derives it from the body (SHA-256, hex).
func (q *queue) checkFIFOParams(o *outgoing) error {
	if q.fifo == nil {
		if o.dedupID != "" {
			return errNotForQueueType("MessageDeduplicationId", o.dedupID)
		}
		if o.group != "" {
			return checkFIFOID("MessageGroupId", o.group)
		}
		return nil
	}
	if o.group == "" {
		return errMissingParameter("MessageGroupId")
	}
	if err := checkFIFOID("MessageGroupId", o.group); err != nil {
		return err
	}
	if o.dedupID == "" {
		if !q.cfg.ContentBasedDeduplication {
			return errInvalidParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		sum := sha256.Sum256([]byte(o.body))
		o.dedupID = hex.EncodeToString(sum[:])
		return nil
	}
	return checkFIFOID("MessageDeduplicationId", o.dedupID)
}

// checkFIFOID enforces SQS's rule for group and deduplication ids: 1 to 128
// characters, alphanumerics and punctuation.
func checkFIFOID(param, v string) error {
	if len(v) > 128 || strings.IndexFunc(v, func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r))
	}) >= 0 {
		return errInvalidParameter(fmt.Sprintf("Value %s for parameter %s is invalid. Reason: %s can only include alphanumeric and punctuation characters. 1 to 128 in length.", v, param, param))
	}
	return nil
}

// Send enqueues body on a standard queue (for in-process senders such as
// event source mapping destinations) and returns the message id.
func (s *Server) Send(queue, body string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[queue]
	if !ok {
		return "", errQueueDoesNotExist()
	}
	res, err := s.sendEntryLocked(q, sendEntry{MessageBody: body})
	return res.MessageId, err
}

func validateMessage(body string, attrs map[string]Attribute) error {
	if body == "" {
		return errMissingParameter("MessageBody")
	}
	size := len(body)
	for i, r := range body {
		if !validBodyRune(r) || (r == utf8.RuneError && !strings.HasPrefix(body[i:], "\uFFFD")) {
			return &apiError{typ: "InvalidMessageContents", query: "InvalidMessageContents",
				msg: "Invalid characters found in the message body."}
		}
	}
	if len(attrs) > 10 {
		return errInvalidParameter("Number of message attributes [" + strconv.Itoa(len(attrs)) + "] exceeds the allowed maximum [10].")
	}
	for name, a := range attrs {
		size += len(name) + len(a.DataType)
		base, _, _ := strings.Cut(a.DataType, ".")
		switch base {
		case "String", "Number":
			if a.StringValue == nil {
				return errInvalidParameter("Message attribute '" + name + "' must contain a non-empty message attribute value for message attribute type '" + a.DataType + "'.")
			}
			size += len(*a.StringValue)
		case "Binary":
			if a.BinaryValue == nil {
				return errInvalidParameter("Message attribute '" + name + "' must contain a non-empty message attribute value for message attribute type 'Binary'.")
			}
			size += len(a.BinaryValue)
		default:
			return errInvalidParameter("The type of message attribute '" + name + "' is invalid.")
		}
	}
	if size > maxMessageBytes {
		return errInvalidParameter(fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxMessageBytes))
	}
	return nil
}

// validBodyRune: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
func validBodyRune(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// checkBatch validates batch entry ids (count, uniqueness, charset).
func checkBatch(ids []string) error {
	if len(ids) == 0 {
		return &apiError{typ: "EmptyBatchRequest", query: "AWS.SimpleQueueService.EmptyBatchRequest",
			msg: "There should be at least one entry in the request."}
	}
	if len(ids) > maxBatchEntries {
		return &apiError{typ: "TooManyEntriesInBatchRequest", query: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
			msg: fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", maxBatchEntries, len(ids))}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || len(id) > 80 || strings.IndexFunc(id, func(r rune) bool {
			return !(r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
		}) >= 0 {
			return &apiError{typ: "InvalidBatchEntryId", query: "AWS.SimpleQueueService.InvalidBatchEntryId",
				msg: "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."}
		}
		if seen[id] {
			return &apiError{typ: "BatchEntryIdsNotDistinct", query: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
				msg: "Id " + id + " repeated."}
		}
		seen[id] = true
	}
	return nil
}

func failedEntry(id string, err error) batchResultError {
	e, ok := err.(*apiError)
	if !ok {
		return batchResultError{ID: id, Code: "InternalError", Message: err.Error()}
	}
	return batchResultError{ID: id, Code: e.typ, Message: e.msg, SenderFault: true}
}

func (s *Server) opSendMessageBatch(body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []sendEntry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	total := 0
	for i, e := range in.Entries {
		ids[i] = e.Id
		total += len(e.MessageBody)
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	if total > maxMessageBytes {
		return nil, &apiError{typ: "BatchRequestTooLong", query: "AWS.SimpleQueueService.BatchRequestTooLong",
			msg: fmt.Sprintf("Batch requests cannot be longer than %d bytes.", maxMessageBytes)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	out := struct {
		Successful []sendResult
		Failed     []batchResultError
	}{Successful: []sendResult{}, Failed: []batchResultError{}}
	for _, e := range in.Entries {
		res, err := s.sendEntryLocked(q, e)
		if err != nil {
			out.Failed = append(out.Failed, failedEntry(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, res)
	}
	return out, nil
}

// ---- ReceiveMessage ------------------------------------------------------------

type wireMessage struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string    `json:",omitempty"`
	MD5OfMessageAttributes string               `json:",omitempty"`
	MessageAttributes      map[string]Attribute `json:",omitempty"`
}

func (s *Server) opReceiveMessage(ctx context.Context, body []byte) (any, error) {
	var in struct {
		QueueUrl                    string
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
	}
	if max < 1 || max > 10 {
		return nil, errInvalidParameter(fmt.Sprintf(
			"Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max))
	}
	wait := 0
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	if wait < 0 || wait > 20 {
		return nil, errInvalidParameter(fmt.Sprintf(
			"Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", wait))
	}
	s.mu.Lock()
	q, err := s.queueFromURL(in.QueueUrl)
	var vis time.Duration
	if err == nil {
		vis = q.cfg.VisibilityTimeout
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout != nil {
		if *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200 {
			return nil, errInvalidParameter(fmt.Sprintf(
				"Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *in.VisibilityTimeout))
		}
		vis = time.Duration(*in.VisibilityTimeout) * time.Second
	}
	ds := s.receiveWait(ctx, q, max, vis, time.Duration(wait)*time.Second, 0)
	sysNames := append(append([]string{}, in.AttributeNames...), in.MessageSystemAttributeNames...)
	msgs := make([]wireMessage, 0, len(ds))
	for _, d := range ds {
		attrs := selectMessageAttributes(d.Attributes, in.MessageAttributeNames)
		msgs = append(msgs, wireMessage{
			MessageId:              d.ID,
			ReceiptHandle:          d.ReceiptHandle,
			MD5OfBody:              md5Hex(d.Body),
			Body:                   d.Body,
			Attributes:             selectSystemAttributes(d, sysNames),
			MD5OfMessageAttributes: md5OfAttributes(attrs),
			MessageAttributes:      attrs,
		})
	}
	return map[string][]wireMessage{"Messages": msgs}, nil
}

// receiveWait receives up to max messages, blocking up to wait (forever when
// wait < 0) for the first one. With window > 0 it then keeps collecting
// until it has max messages or the window has elapsed. When ctx ends it
// returns what it holds; messages are never taken without being returned.
func (s *Server) receiveWait(ctx context.Context, q *queue, max int, vis, wait, window time.Duration) []delivery {
	var (
		got     []delivery
		timer   *time.Timer
		timerC  <-chan time.Time
		collect bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if wait > 0 {
		timer = time.NewTimer(wait)
		timerC = timer.C
	}
	for {
		s.mu.Lock()
		got = append(got, s.receiveLocked(q, max-len(got), vis)...)
		ch := s.changed
		s.mu.Unlock()
		switch {
		case len(got) >= max:
			return got
		case len(got) == 0 && wait == 0:
			return got
		case len(got) > 0 && window <= 0:
			return got
		case len(got) > 0 && !collect:
			collect = true
			if timer != nil {
				timer.Stop()
			}
			timer = time.NewTimer(window)
			timerC = timer.C
		}
		if s.waitHook != nil {
			s.waitHook()
		}
		select {
		case <-ch:
		case <-timerC:
			s.mu.Lock()
			got = append(got, s.receiveLocked(q, max-len(got), vis)...)
			s.mu.Unlock()
			return got
		case <-ctx.Done():
			return got
		}
	}
}

func selectSystemAttributes(d delivery, names []string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	all := map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(d.ReceiveCount),
		"SentTimestamp":                    strconv.FormatInt(d.Sent.UnixMilli(), 10),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(d.FirstReceive.UnixMilli(), 10),
		"SenderId":                         d.SenderID,
	}
	for k, v := range map[string]string{"MessageGroupId": d.GroupID, "MessageDeduplicationId": d.DedupID, "SequenceNumber": d.Sequence} {
		if v != "" {
			all[k] = v
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

// selectMessageAttributes applies MessageAttributeNames: "All", ".*",
// "prefix.*" or exact names.
func selectMessageAttributes(attrs map[string]Attribute, names []string) map[string]Attribute {
	if len(attrs) == 0 || len(names) == 0 {
		return nil
	}
	out := map[string]Attribute{}
	for k, v := range attrs {
		for _, n := range names {
			prefix, wildcard := strings.CutSuffix(n, ".*")
			if n == "All" || n == ".*" || n == k || (wildcard && strings.HasPrefix(k, prefix+".")) {
				out[k] = v
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ---- DeleteMessage / ChangeMessageVisibility / PurgeQueue ------------------------

func (s *Server) opDeleteMessage(body []byte) (any, error) {
	var in struct{ QueueUrl, ReceiptHandle string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return struct{}{}, s.deleteLocked(q, in.ReceiptHandle)
}

type batchIDResult struct {
	Id string
}

func (s *Server) opDeleteMessageBatch(body []byte) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []struct{ Id, ReceiptHandle string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return runBatch(s, in.QueueUrl, in.Entries, func(e struct{ Id, ReceiptHandle string }) string { return e.Id },
		func(q *queue, e struct{ Id, ReceiptHandle string }) error { return s.deleteLocked(q, e.ReceiptHandle) })
}

// runBatch applies one entry at a time under the server lock and reports each
// entry's success or failure, as SQS's *Batch operations do.
func runBatch[E any](s *Server, queueURL string, entries []E, id func(E) string, apply func(*queue, E) error) (any, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = id(e)
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(queueURL)
	if err != nil {
		return nil, err
	}
	out := struct {
		Successful []batchIDResult
		Failed     []batchResultError
	}{Successful: []batchIDResult{}, Failed: []batchResultError{}}
	for i, e := range entries {
		if err := apply(q, e); err != nil {
			out.Failed = append(out.Failed, failedEntry(ids[i], err))
			continue
		}
		out.Successful = append(out.Successful, batchIDResult{ids[i]})
	}
	return out, nil
}

func checkVisibility(v int) error {
	if v < 0 || v > 43200 {
		return errInvalidParameter(fmt.Sprintf(
			"Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200.", v))
	}
	return nil
}

func (s *Server) opChangeMessageVisibility(body []byte) (any, error) {
	var in struct {
		QueueUrl, ReceiptHandle string
		VisibilityTimeout       int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkVisibility(in.VisibilityTimeout); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return struct{}{}, s.changeVisibilityLocked(q, in.ReceiptHandle, time.Duration(in.VisibilityTimeout)*time.Second)
}

func (s *Server) opChangeMessageVisibilityBatch(body []byte) (any, error) {
	type entry struct {
		Id, ReceiptHandle string
		VisibilityTimeout int
	}
	var in struct {
		QueueUrl string
		Entries  []entry
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return runBatch(s, in.QueueUrl, in.Entries, func(e entry) string { return e.Id }, func(q *queue, e entry) error {
		if err := checkVisibility(e.VisibilityTimeout); err != nil {
			return err
		}
		return s.changeVisibilityLocked(q, e.ReceiptHandle, time.Duration(e.VisibilityTimeout)*time.Second)
	})
}

func (s *Server) opPurgeQueue(body []byte) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	s.purgeLocked(q)
	return struct{}{}, nil
}
