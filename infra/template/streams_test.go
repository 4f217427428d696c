package template_test

import (
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/template"
)

const streamsTemplate = `
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
      StreamSpecification: { StreamViewType: NEW_AND_OLD_IMAGES }
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
  Events:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: false
      DeduplicationScope: messageGroup
      FifoThroughputLimit: perMessageGroupId
      RedrivePolicy: { deadLetterTargetArn: !GetAtt EventsDLQ.Arn, maxReceiveCount: 5 }
  EventsDLQ:
    Type: AWS::SQS::Queue
    Properties: { FifoQueue: true }
  Failures:
    Type: AWS::SQS::Queue
  Relay:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/relay
      Environment:
        Variables:
          STREAM: !GetAtt Orders.StreamArn
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 25
            MaximumBatchingWindowInSeconds: 2
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 5
            MaximumRecordAgeInSeconds: 3600
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt Failures.Arn
        Defaults:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: LATEST
`

func parseStreams(t *testing.T, edit func(string) string) (*template.Template, error) {
	t.Helper()
	src := streamsTemplate
	if edit != nil {
		src = edit(src)
	}
	return template.Parse([]byte(src))
}

func TestTableStreamAndFIFOQueues(t *testing.T) {
	tm, err := parseStreams(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	views := map[string]string{}
	for _, tb := range tm.Tables() {
		views[tb.LogicalID] = tb.StreamViewType
	}
	if views["Orders"] != "NEW_AND_OLD_IMAGES" || views["Plain"] != "" {
		t.Errorf("stream view types %v", views)
	}
	qs, err := tm.Queues()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]template.Queue{}
	for _, q := range qs {
		byID[q.LogicalID] = q
	}
	if q := byID["Events"]; !q.FifoQueue || q.ContentBasedDeduplication || q.DeduplicationScope != "messageGroup" ||
		q.FifoThroughputLimit != "perMessageGroupId" || q.DeadLetterQueue != "EventsDLQ" || q.MaxReceiveCount != 5 {
		t.Errorf("Events queue %+v", q)
	}
	if !byID["EventsDLQ"].FifoQueue || byID["Failures"].FifoQueue {
		t.Errorf("FifoQueue flags: EventsDLQ %v, Failures %v", byID["EventsDLQ"].FifoQueue, byID["Failures"].FifoQueue)
	}
}

func TestQueuesRefuseBadFIFODeclarations(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"standard DLQ for a FIFO queue": func(s string) string {
			return strings.Replace(s, "Properties: { FifoQueue: true }", "Properties: {}", 1)
		},
		"FIFO attribute on a standard queue": func(s string) string {
			return strings.Replace(s, "  Failures:\n    Type: AWS::SQS::Queue\n", "  Failures:\n    Type: AWS::SQS::Queue\n    Properties: { ContentBasedDeduplication: true }\n", 1)
		},
		"FIFO name without suffix": func(s string) string {
			return strings.Replace(s, "Properties: { FifoQueue: true }", "Properties: { FifoQueue: true, QueueName: dlq }", 1)
		},
		"high throughput with queue scope": func(s string) string {
			return strings.Replace(s, "DeduplicationScope: messageGroup", "DeduplicationScope: queue", 1)
		},
		"unknown scope": func(s string) string {
			return strings.Replace(s, "DeduplicationScope: messageGroup", "DeduplicationScope: group", 1)
		},
	} {
		tm, err := parseStreams(t, edit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := tm.Queues(); err == nil {
			t.Errorf("%s: Queues() accepted it", name)
		}
	}
}

func streamEvents(t *testing.T, tm *template.Template) map[string]template.Event {
	t.Helper()
	out := map[string]template.Event{}
	for _, f := range tm.Functions() {
		for _, e := range f.Events {
			if e.Type == "DynamoDB" {
				out[f.LogicalID+"."+e.Name] = e
			}
		}
	}
	return out
}

func TestStreamEvent(t *testing.T) {
	tm, err := parseStreams(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := streamEvents(t, tm)
	if len(evs) != 2 {
		t.Fatalf("Functions() shows DynamoDB events %v, want Relay.Stream and Relay.Defaults", evs)
	}
	got, err := tm.StreamEvent(evs["Relay.Stream"])
	want := template.StreamEvent{Table: "Orders", StartingPosition: "TRIM_HORIZON", BatchSize: 25, MaximumBatchingWindowInSeconds: 2,
		BisectBatchOnFunctionError: true, MaximumRetryAttempts: 5, MaximumRecordAgeInSeconds: 3600, ReportBatchItemFailures: true,
		OnFailure: "Failures", Enabled: true}
	if err != nil || got != want {
		t.Errorf("Relay.Stream = %+v, %v\nwant %+v", got, err, want)
	}
	got, err = tm.StreamEvent(evs["Relay.Defaults"])
	want = template.StreamEvent{Table: "Orders", StartingPosition: "LATEST", BatchSize: 100, MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: -1, Enabled: true}
	if err != nil || got != want {
		t.Errorf("Relay.Defaults = %+v, %v\nwant %+v", got, err, want)
	}
}

func TestStreamEventRefusals(t *testing.T) {
	for name, c := range map[string]struct{ old, new string }{
		"table without a stream":  {"Stream: !GetAtt Orders.StreamArn\n            StartingPosition: TRIM", "Stream: !GetAtt Plain.StreamArn\n            StartingPosition: TRIM"},
		"stream not a StreamArn":  {"Stream: !GetAtt Orders.StreamArn\n            StartingPosition: TRIM", "Stream: !GetAtt Orders.Arn\n            StartingPosition: TRIM"},
		"undeclared table":        {"Stream: !GetAtt Orders.StreamArn\n            StartingPosition: TRIM", "Stream: !GetAtt Nope.StreamArn\n            StartingPosition: TRIM"},
		"starting position":       {"StartingPosition: TRIM_HORIZON", "StartingPosition: AT_TIMESTAMP"},
		"batch size":              {"BatchSize: 25", "BatchSize: 10001"},
		"batching window":         {"MaximumBatchingWindowInSeconds: 2", "MaximumBatchingWindowInSeconds: 301"},
		"retry attempts":          {"MaximumRetryAttempts: 5", "MaximumRetryAttempts: -2"},
		"record age":              {"MaximumRecordAgeInSeconds: 3600", "MaximumRecordAgeInSeconds: 30"},
		"response type":           {"[ReportBatchItemFailures]", "[Other]"},
		"FIFO on-failure queue":   {"Destination: !GetAtt Failures.Arn", "Destination: !GetAtt Events.Arn"},
		"on-failure not a queue":  {"Destination: !GetAtt Failures.Arn", "Destination: !GetAtt Orders.Arn"},
		"on-failure SNS":          {"Type: SQS\n                Destination", "Type: SNS\n                Destination"},
		"filters":                 {"BatchSize: 25", "BatchSize: 25\n            FilterCriteria: { Filters: [] }"},
		"parallelization":         {"BatchSize: 25", "BatchSize: 25\n            ParallelizationFactor: 2"},
		"on-success destinations": {"DestinationConfig:\n", "DestinationConfig:\n              OnSuccess: { Destination: !GetAtt Failures.Arn }\n"},
	} {
		tm, err := parseStreams(t, func(s string) string {
			if !strings.Contains(s, c.old) {
				t.Fatalf("%s: fixture lacks %q", name, c.old)
			}
			return strings.Replace(s, c.old, c.new, 1)
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := tm.StreamEvent(streamEvents(t, tm)["Relay.Stream"]); err == nil {
			t.Errorf("%s: accepted as %+v", name, got)
		}
	}
}

// Every DynamoDB event of the product template reads as a stream event the
// local stack can run.
func TestProductStreamEvents(t *testing.T) {
	tm := loadProduct(t)
	for name, e := range streamEvents(t, tm) {
		if _, err := tm.StreamEvent(e); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestResolverStreamArn(t *testing.T) {
	tm, err := parseStreams(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := template.Resolver{T: tm, GetAtt: func(id, attr string) (string, bool) {
		if id == "Orders" && attr == "StreamArn" {
			return "arn:aws:dynamodb:r:a:table/Orders/stream/x", true
		}
		return "", false
	}}
	env := tm.Functions()[0].Environment
	if got, err := r.String(env["STREAM"]); err != nil || got != "arn:aws:dynamodb:r:a:table/Orders/stream/x" {
		t.Errorf("STREAM = %q, %v", got, err)
	}
}
