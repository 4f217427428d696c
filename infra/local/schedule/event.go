package schedule

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Source says which SAM event type declared the schedule.
type Source string

const (
	// SourceRule is SAM `Type: Schedule` (an EventBridge rule).
	SourceRule Source = "Schedule"
	// SourceScheduler is SAM `Type: ScheduleV2` (EventBridge Scheduler).
	SourceScheduler Source = "ScheduleV2"
)

// EventOptions describe a scheduled invocation.
type EventOptions struct {
	Source  Source
	Name    string // rule / schedule name, used in the resource ARN
	Input   string // the template's Input; when set it is the payload, verbatim
	Region  string // default ap-southeast-1
	Account string // default 000000000000
}

// Payload returns the Lambda event for a fire at `at`:
//   - Input given: exactly that string (EventBridge passes constant input as is);
//   - SourceScheduler without Input: "{}";
//   - SourceRule without Input: the "Scheduled Event" EventBridge sends, i.e.
//     {"version":"0","id":…,"detail-type":"Scheduled Event","source":"aws.events",
//     "account":…,"time":"<at, UTC, RFC 3339>","region":…,
//     "resources":["arn:aws:events:<region>:<account>:rule/<name>"],"detail":{}}
//     (decodes into events.CloudWatchEvent).
func Payload(o EventOptions, at time.Time) []byte {
	if o.Input != "" {
		return []byte(o.Input)
	}
	if o.Source == SourceScheduler {
		return []byte("{}")
	}
	if o.Region == "" {
		o.Region = "ap-southeast-1"
	}
	if o.Account == "" {
		o.Account = "000000000000"
	}
	ev := events.CloudWatchEvent{
		Version:    "0",
		ID:         eventID(),
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  o.Account,
		Time:       at.UTC().Truncate(time.Second),
		Region:     o.Region,
		Resources:  []string{"arn:aws:events:" + o.Region + ":" + o.Account + ":rule/" + o.Name},
		Detail:     json.RawMessage("{}"),
	}
	b, err := json.Marshal(ev)
	if err != nil { // cannot happen: all fields are plain values
		panic(err)
	}
	return b
}

func eventID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
