package template

import (
	"fmt"
	"sort"
	"strings"
)

// Function is an AWS::Serverless::Function merged with Globals.Function.
type Function struct {
	LogicalID     string
	CodeURI       string
	Handler       string
	Runtime       string
	Architectures []string
	Timeout       int // seconds
	MemorySize    int // MB
	Environment   map[string]any
	Events        []Event
	Policies      []any
}

// Event is one trigger of a function.
type Event struct {
	Name       string
	Type       string // HttpApi, SQS, DynamoDB, ScheduleV2, ...
	Properties map[string]any
}

// Route is an HttpApi event's method and path.
func (e Event) Route() (method, path string) {
	return strings.ToUpper(asString(e.Properties["Method"])), asString(e.Properties["Path"])
}

// Functions returns the template's functions, Globals applied, sorted by id.
func (t *Template) Functions() []Function {
	g := asMap(t.Globals["Function"])
	var out []Function
	for _, r := range t.ResourcesOfType("AWS::Serverless::Function") {
		p := r.Properties
		get := func(k string) any {
			if v, ok := p[k]; ok {
				return v
			}
			return g[k]
		}
		f := Function{
			LogicalID:   r.LogicalID,
			CodeURI:     asString(get("CodeUri")),
			Handler:     asString(get("Handler")),
			Runtime:     asString(get("Runtime")),
			Timeout:     asInt(get("Timeout"), 3),
			MemorySize:  asInt(get("MemorySize"), 128),
			Environment: map[string]any{},
			Policies:    asList(p["Policies"]),
		}
		for _, a := range asList(get("Architectures")) {
			f.Architectures = append(f.Architectures, asString(a))
		}
		for k, v := range asMap(asMap(g["Environment"])["Variables"]) {
			f.Environment[k] = v
		}
		for k, v := range asMap(asMap(p["Environment"])["Variables"]) {
			f.Environment[k] = v
		}
		for name, e := range asMap(p["Events"]) {
			em := asMap(e)
			f.Events = append(f.Events, Event{Name: name, Type: asString(em["Type"]), Properties: asMap(em["Properties"])})
		}
		sort.Slice(f.Events, func(i, j int) bool { return f.Events[i].Name < f.Events[j].Name })
		out = append(out, f)
	}
	return out
}

// Table is an AWS::DynamoDB::Table's key schema, TTL attribute and stream.
type Table struct {
	LogicalID    string
	Attributes   map[string]string // name -> S|N|B
	HashKey      string
	RangeKey     string
	GSIs         []Index
	TTLAttribute string
	// StreamViewType is StreamSpecification.StreamViewType (KEYS_ONLY,
	// NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES); "" when the table has no stream.
	StreamViewType string
}

// Index is a global secondary index.
type Index struct {
	Name             string
	HashKey          string
	RangeKey         string
	ProjectionType   string
	NonKeyAttributes []string
}

func keySchema(v any) (hash, rng string) {
	for _, k := range asList(v) {
		km := asMap(k)
		switch asString(km["KeyType"]) {
		case "HASH":
			hash = asString(km["AttributeName"])
		case "RANGE":
			rng = asString(km["AttributeName"])
		}
	}
	return
}

// Tables returns the template's DynamoDB tables, sorted by logical id.
func (t *Template) Tables() []Table {
	var out []Table
	for _, r := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		p := r.Properties
		tb := Table{LogicalID: r.LogicalID, Attributes: map[string]string{}}
		for _, a := range asList(p["AttributeDefinitions"]) {
			am := asMap(a)
			tb.Attributes[asString(am["AttributeName"])] = asString(am["AttributeType"])
		}
		tb.HashKey, tb.RangeKey = keySchema(p["KeySchema"])
		for _, gi := range asList(p["GlobalSecondaryIndexes"]) {
			gm := asMap(gi)
			ix := Index{Name: asString(gm["IndexName"])}
			ix.HashKey, ix.RangeKey = keySchema(gm["KeySchema"])
			pr := asMap(gm["Projection"])
			ix.ProjectionType = asString(pr["ProjectionType"])
			for _, a := range asList(pr["NonKeyAttributes"]) {
				ix.NonKeyAttributes = append(ix.NonKeyAttributes, asString(a))
			}
			tb.GSIs = append(tb.GSIs, ix)
		}
		if ttl := asMap(p["TimeToLiveSpecification"]); ttl != nil {
			tb.TTLAttribute = asString(ttl["AttributeName"])
		}
		if ss := asMap(p["StreamSpecification"]); ss != nil {
			tb.StreamViewType = asString(ss["StreamViewType"])
		}
		out = append(out, tb)
	}
	return out
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID                string
	VisibilityTimeoutSeconds int
	RetentionSeconds         int
	DeadLetterQueue          string // logical id of the DLQ, from RedrivePolicy
	MaxReceiveCount          int

	FifoQueue                 bool
	ContentBasedDeduplication bool
	DeduplicationScope        string // queue | messageGroup; "" when not set
	FifoThroughputLimit       string // perQueue | perMessageGroupId; "" when not set
}

// Queues returns the template's SQS queues, sorted by logical id. It refuses
// what CloudFormation refuses: FIFO attributes on a standard queue, a FIFO
// QueueName without the .fifo suffix, high throughput without per-group
// deduplication, and a dead-letter queue of the other kind.
func (t *Template) Queues() ([]Queue, error) {
	var out []Queue
	byID := map[string]Queue{}
	for _, r := range t.ResourcesOfType("AWS::SQS::Queue") {
		p := r.Properties
		q := Queue{
			LogicalID:                 r.LogicalID,
			VisibilityTimeoutSeconds:  asInt(p["VisibilityTimeout"], 30),
			RetentionSeconds:          asInt(p["MessageRetentionPeriod"], 345600),
			FifoQueue:                 asBool(p["FifoQueue"]),
			ContentBasedDeduplication: asBool(p["ContentBasedDeduplication"]),
			DeduplicationScope:        asString(p["DeduplicationScope"]),
			FifoThroughputLimit:       asString(p["FifoThroughputLimit"]),
		}
		if rp := asMap(p["RedrivePolicy"]); rp != nil {
			id, _, err := RefTarget(rp["deadLetterTargetArn"])
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", r.LogicalID, err)
			}
			q.DeadLetterQueue = id
			q.MaxReceiveCount = asInt(rp["maxReceiveCount"], 0)
		}
		if err := q.checkFIFO(asString(p["QueueName"])); err != nil {
			return nil, fmt.Errorf("queue %s: %w", r.LogicalID, err)
		}
		out = append(out, q)
		byID[q.LogicalID] = q
	}
	for _, q := range out {
		if dlq, ok := byID[q.DeadLetterQueue]; ok && dlq.FifoQueue != q.FifoQueue {
			return nil, fmt.Errorf("queue %s: dead-letter queue %s must be FIFO too, or standard too", q.LogicalID, dlq.LogicalID)
		}
	}
	return out, nil
}

func (q Queue) checkFIFO(name string) error {
	if !q.FifoQueue {
		if q.ContentBasedDeduplication || q.DeduplicationScope != "" || q.FifoThroughputLimit != "" {
			return fmt.Errorf("FIFO attributes on a standard queue")
		}
		if strings.HasSuffix(name, ".fifo") {
			return fmt.Errorf("QueueName %s ends in .fifo but FifoQueue is not true", name)
		}
		return nil
	}
	if name != "" && !strings.HasSuffix(name, ".fifo") {
		return fmt.Errorf("FIFO QueueName %s must end in .fifo", name)
	}
	switch q.DeduplicationScope {
	case "", "queue", "messageGroup":
	default:
		return fmt.Errorf("DeduplicationScope %q (queue or messageGroup)", q.DeduplicationScope)
	}
	switch q.FifoThroughputLimit {
	case "", "perQueue":
	case "perMessageGroupId":
		if q.DeduplicationScope != "messageGroup" {
			return fmt.Errorf("FifoThroughputLimit perMessageGroupId requires DeduplicationScope messageGroup")
		}
	default:
		return fmt.Errorf("FifoThroughputLimit %q (perQueue or perMessageGroupId)", q.FifoThroughputLimit)
	}
	return nil
}

// StreamEvent is a function's `Type: DynamoDB` event: an event source
// mapping on a table's stream.
type StreamEvent struct {
	Table                          string // logical id of the table (Stream: !GetAtt <Table>.StreamArn)
	StartingPosition               string // TRIM_HORIZON | LATEST
	BatchSize                      int    // default 100
	MaximumBatchingWindowInSeconds int    // default 0
	BisectBatchOnFunctionError     bool
	MaximumRetryAttempts           int    // -1 (the default) retries until the records expire
	MaximumRecordAgeInSeconds      int    // -1 (the default) keeps records however old
	ReportBatchItemFailures        bool   // FunctionResponseTypes: [ReportBatchItemFailures]
	OnFailure                      string // logical id of the on-failure SQS queue (DestinationConfig.OnFailure.Destination: !GetAtt <Queue>.Arn); "" for none
	Enabled                        bool   // default true
}

// streamEventProperties are the DynamoDB event properties StreamEvent reads.
var streamEventProperties = map[string]bool{
	"Stream": true, "StartingPosition": true, "BatchSize": true, "MaximumBatchingWindowInSeconds": true,
	"BisectBatchOnFunctionError": true, "MaximumRetryAttempts": true, "MaximumRecordAgeInSeconds": true,
	"FunctionResponseTypes": true, "DestinationConfig": true, "Enabled": true, "ParallelizationFactor": true,
}

// StreamEvent reads and checks a `Type: DynamoDB` event against Lambda's
// limits and the template's resources: the stream must be a table's
// StreamArn and the table must declare a StreamSpecification; an on-failure
// destination must be a standard SQS queue's Arn. Properties it does not know
// (filters, tumbling windows, ParallelizationFactor above 1) are refused
// rather than ignored.
func (t *Template) StreamEvent(e Event) (StreamEvent, error) {
	fail := func(format string, args ...any) (StreamEvent, error) {
		return StreamEvent{}, fmt.Errorf("DynamoDB event %s: %s", e.Name, fmt.Sprintf(format, args...))
	}
	if e.Type != "DynamoDB" {
		return fail("type %s", e.Type)
	}
	p := e.Properties
	for k := range p {
		if !streamEventProperties[k] {
			return fail("unsupported property %s", k)
		}
	}
	if n := asInt(p["ParallelizationFactor"], 1); n != 1 {
		return fail("ParallelizationFactor %d unsupported (one batch per shard at a time)", n)
	}
	id, attr, err := RefTarget(p["Stream"])
	if err != nil || attr != "StreamArn" {
		return fail("Stream must be !GetAtt <Table>.StreamArn, got %v", p["Stream"])
	}
	tb, ok := t.Resources[id]
	if !ok || tb.Type != "AWS::DynamoDB::Table" {
		return fail("Stream names %s, not a declared table", id)
	}
	if asString(asMap(tb.Properties["StreamSpecification"])["StreamViewType"]) == "" {
		return fail("table %s has no StreamSpecification", id)
	}
	ev := StreamEvent{
		Table:                          id,
		StartingPosition:               asString(p["StartingPosition"]),
		BatchSize:                      asInt(p["BatchSize"], 100),
		MaximumBatchingWindowInSeconds: asInt(p["MaximumBatchingWindowInSeconds"], 0),
		BisectBatchOnFunctionError:     asBool(p["BisectBatchOnFunctionError"]),
		MaximumRetryAttempts:           asInt(p["MaximumRetryAttempts"], -1),
		MaximumRecordAgeInSeconds:      asInt(p["MaximumRecordAgeInSeconds"], -1),
		Enabled:                        p["Enabled"] == nil || asBool(p["Enabled"]),
	}
	switch {
	case ev.StartingPosition != "TRIM_HORIZON" && ev.StartingPosition != "LATEST":
		return fail("StartingPosition %q (TRIM_HORIZON or LATEST)", ev.StartingPosition)
	case ev.BatchSize < 1 || ev.BatchSize > 10000:
		return fail("BatchSize %d (1 to 10000)", ev.BatchSize)
	case ev.MaximumBatchingWindowInSeconds < 0 || ev.MaximumBatchingWindowInSeconds > 300:
		return fail("MaximumBatchingWindowInSeconds %d (0 to 300)", ev.MaximumBatchingWindowInSeconds)
	case ev.MaximumRetryAttempts < -1 || ev.MaximumRetryAttempts > 10000:
		return fail("MaximumRetryAttempts %d (-1 to 10000)", ev.MaximumRetryAttempts)
	case ev.MaximumRecordAgeInSeconds != -1 && (ev.MaximumRecordAgeInSeconds < 60 || ev.MaximumRecordAgeInSeconds > 604800):
		return fail("MaximumRecordAgeInSeconds %d (-1, or 60 to 604800)", ev.MaximumRecordAgeInSeconds)
	}
	for _, rt := range asList(p["FunctionResponseTypes"]) {
		if asString(rt) != "ReportBatchItemFailures" {
			return fail("FunctionResponseTypes %v", rt)
		}
		ev.ReportBatchItemFailures = true
	}
	if dc := asMap(p["DestinationConfig"]); dc != nil {
		of := asMap(dc["OnFailure"])
		for k := range dc {
			if k != "OnFailure" {
				return fail("DestinationConfig.%s unsupported", k)
			}
		}
		if typ := asString(of["Type"]); typ != "" && typ != "SQS" {
			return fail("on-failure destination type %s unsupported (SQS only)", typ)
		}
		qid, qattr, err := RefTarget(of["Destination"])
		if err != nil || qattr != "Arn" {
			return fail("DestinationConfig.OnFailure.Destination must be !GetAtt <Queue>.Arn, got %v", of["Destination"])
		}
		q, ok := t.Resources[qid]
		if !ok || q.Type != "AWS::SQS::Queue" {
			return fail("on-failure destination %s is not a declared queue", qid)
		}
		if asBool(q.Properties["FifoQueue"]) {
			return fail("on-failure destination %s is a FIFO queue; Lambda takes standard queues only", qid)
		}
		ev.OnFailure = qid
	}
	return ev, nil
}

// RefTarget reads {"Ref": id} or {"Fn::GetAtt": [id, attr]} and returns id and attr
// ("" for Ref).
func RefTarget(v any) (id, attr string, err error) {
	m := asMap(v)
	if r, ok := m["Ref"]; ok {
		return asString(r), "", nil
	}
	if g, ok := m["Fn::GetAtt"]; ok {
		l := asList(g)
		if len(l) == 2 {
			return asString(l[0]), asString(l[1]), nil
		}
	}
	return "", "", fmt.Errorf("template: %v is not a Ref or GetAtt", v)
}
