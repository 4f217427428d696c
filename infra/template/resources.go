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
	Type       string // HttpApi, SQS, ScheduleV2, ...
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
	LogicalID      string
	Attributes     map[string]string // name -> S|N|B
	HashKey        string
	RangeKey       string
	GSIs           []Index
	TTLAttribute   string
	StreamViewType string // StreamSpecification.StreamViewType; "" = no stream
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
		tb.StreamViewType = asString(asMap(p["StreamSpecification"])["StreamViewType"])
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
}

// Queues returns the template's SQS queues, sorted by logical id.
func (t *Template) Queues() ([]Queue, error) {
	var out []Queue
	for _, r := range t.ResourcesOfType("AWS::SQS::Queue") {
		p := r.Properties
		q := Queue{
			LogicalID:                r.LogicalID,
			VisibilityTimeoutSeconds: asInt(p["VisibilityTimeout"], 30),
			RetentionSeconds:         asInt(p["MessageRetentionPeriod"], 345600),
		}
		if rp := asMap(p["RedrivePolicy"]); rp != nil {
			id, _, err := RefTarget(rp["deadLetterTargetArn"])
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", r.LogicalID, err)
			}
			q.DeadLetterQueue = id
			q.MaxReceiveCount = asInt(rp["maxReceiveCount"], 0)
		}
		out = append(out, q)
	}
	return out, nil
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
