package streammap

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"time"
)

// maxPayload is Lambda's synchronous invoke payload limit; a batch is cut
// short rather than exceed it.
const maxPayload = 6 * 1024 * 1024

// eventRecord is one record of the DynamoDB event Lambda sends
// (events.DynamoDBEventRecord). Images pass through as DynamoDB JSON.
type eventRecord struct {
	EventID        string      `json:"eventID"`
	EventName      string      `json:"eventName"`
	EventVersion   string      `json:"eventVersion"`
	EventSource    string      `json:"eventSource"`
	AWSRegion      string      `json:"awsRegion"`
	DynamoDB       eventChange `json:"dynamodb"`
	EventSourceARN string      `json:"eventSourceARN"`
	UserIdentity   *struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity,omitempty"`
}

type eventChange struct {
	ApproximateCreationDateTime int64                      `json:"ApproximateCreationDateTime"` // epoch seconds
	Keys                        map[string]json.RawMessage `json:"Keys,omitempty"`
	NewImage                    map[string]json.RawMessage `json:"NewImage,omitempty"`
	OldImage                    map[string]json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string                     `json:"SequenceNumber"`
	SizeBytes                   int64                      `json:"SizeBytes"`
	StreamViewType              string                     `json:"StreamViewType"`
}

// encodeRecord renders r as Lambda's DynamoDB event record.
func encodeRecord(r Record, region, streamArn string) ([]byte, error) {
	e := eventRecord{
		EventID: r.EventID, EventName: r.EventName, EventVersion: "1.1", EventSource: "aws:dynamodb",
		AWSRegion: region, EventSourceARN: streamArn,
		DynamoDB: eventChange{
			ApproximateCreationDateTime: r.ApproximateCreationDateTime.Unix(),
			Keys:                        r.Keys, NewImage: r.NewImage, OldImage: r.OldImage,
			SequenceNumber: r.SequenceNumber, SizeBytes: r.SizeBytes, StreamViewType: r.StreamViewType,
		},
	}
	if r.UserIdentity != nil {
		e.UserIdentity = &struct {
			Type        string `json:"type"`
			PrincipalID string `json:"principalId"`
		}{r.UserIdentity.Type, r.UserIdentity.PrincipalID}
	}
	return json.Marshal(e)
}

// encodeEvent renders {"Records":[...]} from encoded records.
func encodeEvent(recs [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	b.Write(bytes.Join(recs, []byte{','}))
	b.WriteString(`]}`)
	return b.Bytes()
}

// failureRecord is the invocation record Lambda sends to a stream mapping's
// on-failure destination for records it skips.
type failureRecord struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  requestContext   `json:"requestContext"`
	ResponseContext *responseContext `json:"responseContext,omitempty"` // absent when the batch was never invoked
	BatchInfo       batchInfo        `json:"DDBStreamBatchInfo"`
}

type requestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"` // RetryAttemptsExhausted | RecordAgeExceeded
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

type responseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

type batchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamArn                       string `json:"streamArn"`
}

// shardID is the one shard a local table's stream has.
func shardID(streamArn string) string {
	return fmt.Sprintf("shardId-%020d-%08x", 1, crc32.ChecksumIEEE([]byte(streamArn)))
}

func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
