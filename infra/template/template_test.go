package template_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/estatepay/estatepay/infra/local/schedule"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/infra/template"
)

// pseudoParams are CloudFormation's pseudo parameters.
var pseudoParams = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// getAttAttrs are the GetAtt attributes each resource type supports (the ones
// this template may use).
var getAttAttrs = map[string][]string{
	"AWS::SQS::Queue":               {"Arn", "QueueName", "QueueUrl"},
	"AWS::DynamoDB::Table":          {"Arn", "StreamArn"},
	"AWS::Serverless::Function":     {"Arn"},
	"AWS::Serverless::HttpApi":      {"ApiEndpoint"},
	"AWS::CloudWatch::Alarm":        {"Arn"},
	"AWS::SNS::Topic":               {"TopicArn", "TopicName"},
	"AWS::Serverless::StateMachine": {"Arn", "Name"},
	"AWS::KMS::Key":                 {"Arn", "KeyId"},
}

func root(t *testing.T) string { return stacktest.Root(t) }

func loadProduct(t *testing.T) *template.Template {
	t.Helper()
	tm, err := template.Load(filepath.Join(root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// rawDoc is the whole template as a yaml.Node mapping (all sections, short tags intact).
func rawDoc(t *testing.T) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func section(doc *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == name {
			return doc.Content[i+1]
		}
	}
	return nil
}

func keys(n *yaml.Node) []string {
	var out []string
	if n == nil {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

func TestFunctionsHaveSourcesAndBuild(t *testing.T) {
	tm := loadProduct(t)
	fns := tm.Functions()
	if len(fns) < 6 {
		t.Fatalf("want at least the 6 product functions, got %d", len(fns))
	}
	for _, f := range fns {
		if f.CodeURI == "" || filepath.IsAbs(f.CodeURI) || strings.Contains(f.CodeURI, "..") {
			t.Errorf("%s: CodeUri %q must be a relative path inside the repository", f.LogicalID, f.CodeURI)
			continue
		}
		for _, file := range []string{"main.go", "handler.go"} {
			if _, err := os.Stat(filepath.Join(root(t), f.CodeURI, file)); err != nil {
				t.Errorf("%s: %v", f.LogicalID, err)
			}
		}
	}
	bins := stacktest.Binaries(t) // go build of every CodeUri, once per test process
	for _, f := range fns {
		fi, err := os.Stat(filepath.Join(bins, f.LogicalID, "bootstrap"))
		if err != nil {
			t.Errorf("%s: %v", f.LogicalID, err)
			continue
		}
		if fi.Mode()&0o111 == 0 || fi.Size() == 0 {
			t.Errorf("%s: bootstrap is not an executable (%v, %d bytes)", f.LogicalID, fi.Mode(), fi.Size())
		}
	}
}

// ref is one intrinsic reference found in the raw template.
type ref struct {
	kind string // Ref, GetAtt, Sub, Condition
	name string
	attr string
	line int
}

// collectRefs walks every node of the document (short and long forms).
func collectRefs(t *testing.T, n *yaml.Node) []ref {
	var out []ref
	subRefs := func(tmpl string, vars map[string]bool, line int) {
		for {
			i := strings.Index(tmpl, "${")
			if i < 0 {
				return
			}
			j := strings.Index(tmpl[i:], "}")
			if j < 0 {
				t.Errorf("line %d: unterminated ${ in Sub %q", line, tmpl)
				return
			}
			name := tmpl[i+2 : i+j]
			tmpl = tmpl[i+j+1:]
			if strings.HasPrefix(name, "!") || vars[name] {
				continue
			}
			if id, attr, ok := strings.Cut(name, "."); ok && !pseudoParams[name] {
				out = append(out, ref{"GetAtt", id, attr, line})
			} else {
				out = append(out, ref{"Ref", name, "", line})
			}
		}
	}
	sub := func(v *yaml.Node) {
		switch v.Kind {
		case yaml.ScalarNode:
			subRefs(v.Value, nil, v.Line)
		case yaml.SequenceNode:
			if len(v.Content) != 2 || v.Content[1].Kind != yaml.MappingNode {
				t.Errorf("line %d: bad Sub", v.Line)
				return
			}
			vars := map[string]bool{}
			for _, k := range keys(v.Content[1]) {
				vars[k] = true
			}
			subRefs(v.Content[0].Value, vars, v.Line)
			for i := 1; i < len(v.Content[1].Content); i += 2 {
				out = append(out, collectRefs(t, v.Content[1].Content[i])...)
			}
		}
	}
	getAtt := func(v *yaml.Node) {
		switch v.Kind {
		case yaml.ScalarNode:
			id, attr, _ := strings.Cut(v.Value, ".")
			out = append(out, ref{"GetAtt", id, attr, v.Line})
		case yaml.SequenceNode:
			if len(v.Content) != 2 {
				t.Errorf("line %d: bad GetAtt", v.Line)
				return
			}
			out = append(out, ref{"GetAtt", v.Content[0].Value, v.Content[1].Value, v.Line})
		}
	}
	switch n.Tag {
	case "!Ref":
		return append(out, ref{"Ref", n.Value, "", n.Line})
	case "!GetAtt":
		getAtt(n)
		return out
	case "!Sub":
		sub(n)
		return out
	case "!Condition":
		return append(out, ref{"Condition", n.Value, "", n.Line})
	case "!If":
		if len(n.Content) == 3 {
			out = append(out, ref{"Condition", n.Content[0].Value, "", n.Line})
			for _, c := range n.Content[1:] {
				out = append(out, collectRefs(t, c)...)
			}
			return out
		}
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			switch k {
			case "Ref":
				out = append(out, ref{"Ref", v.Value, "", v.Line})
				continue
			case "Fn::GetAtt":
				getAtt(v)
				continue
			case "Fn::Sub":
				sub(v)
				continue
			case "Condition":
				if v.Kind == yaml.ScalarNode {
					out = append(out, ref{"Condition", v.Value, "", v.Line})
					continue
				}
			}
			out = append(out, collectRefs(t, v)...)
		}
		return out
	}
	for _, c := range n.Content {
		out = append(out, collectRefs(t, c)...)
	}
	return out
}

// refProblems checks each reference names a parameter, pseudo parameter,
// declared resource (with a valid GetAtt attribute) or declared condition.
func refProblems(tm *template.Template, refs []ref, conditions map[string]bool) (problems []string, kinds map[string]int) {
	kinds = map[string]int{}
	for _, r := range refs {
		kinds[r.kind]++
		switch r.kind {
		case "Ref":
			_, isParam := tm.Parameters[r.name]
			_, isRes := tm.Resources[r.name]
			if !isParam && !isRes && !pseudoParams[r.name] {
				problems = append(problems, fmt.Sprintf("line %d: Ref %q is not a parameter, pseudo parameter or resource", r.line, r.name))
			}
		case "GetAtt":
			res, ok := tm.Resources[r.name]
			if !ok {
				problems = append(problems, fmt.Sprintf("line %d: GetAtt %s.%s: no resource %s", r.line, r.name, r.attr, r.name))
				continue
			}
			if !slices.Contains(getAttAttrs[res.Type], r.attr) {
				problems = append(problems, fmt.Sprintf("line %d: GetAtt %s.%s: %s has no attribute %q (valid: %v)", r.line, r.name, r.attr, res.Type, r.attr, getAttAttrs[res.Type]))
			}
		case "Condition":
			if !conditions[r.name] {
				problems = append(problems, fmt.Sprintf("line %d: condition %q is not declared", r.line, r.name))
			}
		}
	}
	return problems, kinds
}

func TestEveryReferenceResolves(t *testing.T) {
	tm := loadProduct(t)
	doc := rawDoc(t)
	conditions := map[string]bool{}
	for _, c := range keys(section(doc, "Conditions")) {
		conditions[c] = true
	}
	refs := collectRefs(t, doc)
	if len(refs) < 30 {
		t.Fatalf("found only %d references; the walker is broken", len(refs))
	}
	problems, kinds := refProblems(tm, refs, conditions)
	for _, p := range problems {
		t.Error(p)
	}
	for _, k := range []string{"Ref", "GetAtt", "Condition"} {
		if kinds[k] == 0 {
			t.Errorf("no %s found; the walker is broken", k)
		}
	}

	// The package's own view agrees: every function environment resolves with a
	// resolver that knows only the declared resources.
	r := template.Resolver{
		T:      tm,
		Pseudo: map[string]string{"AWS::Region": "ap-southeast-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "s"},
		Ref: func(id string) (string, bool) {
			_, ok := tm.Resources[id]
			return "ref-" + id, ok
		},
		GetAtt: func(id, attr string) (string, bool) {
			res, ok := tm.Resources[id]
			if !ok || !slices.Contains(getAttAttrs[res.Type], attr) {
				return "", false
			}
			return "att-" + id + "." + attr, true
		},
	}
	for _, f := range tm.Functions() {
		for k, v := range f.Environment {
			if _, err := r.String(v); err != nil {
				t.Errorf("%s env %s: %v", f.LogicalID, k, err)
			}
		}
		sts, _ := statements(f)
		for _, st := range sts {
			for _, res := range list(st["Resource"]) {
				s, err := r.String(res)
				if err != nil {
					t.Errorf("%s policy resource: %v", f.LogicalID, err)
				}
				if strings.Contains(s, "${") {
					t.Errorf("%s policy resource %q left a ${} unresolved", f.LogicalID, s)
				}
			}
		}
	}
	for name, o := range tm.Outputs {
		if _, err := r.String(o.(map[string]any)["Value"]); err != nil {
			t.Errorf("output %s: %v", name, err)
		}
	}
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func statements(f template.Function) ([]map[string]any, []string) {
	var out []map[string]any
	var problems []string
	for _, p := range f.Policies {
		pm, ok := p.(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("policy %v is not an inline statement list (managed policies and SAM policy templates are too broad to review here)", p))
			continue
		}
		for k := range pm {
			if k != "Statement" {
				problems = append(problems, fmt.Sprintf("policy has %q; only inline Statement is allowed", k))
			}
		}
		for _, st := range list(pm["Statement"]) {
			sm, ok := st.(map[string]any)
			if !ok {
				problems = append(problems, fmt.Sprintf("statement %v is not a mapping", st))
				continue
			}
			out = append(out, sm)
		}
	}
	return out, problems
}

// dataResources returns the tables and queues among ids.
func dataResources(tm *template.Template, ids []string) []string {
	var out []string
	for _, id := range ids {
		switch tm.Resources[id].Type {
		case "AWS::DynamoDB::Table", "AWS::SQS::Queue":
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// privilegeProblems lists least-privilege violations of function f.
func privilegeProblems(tm *template.Template, f template.Function) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	// The function reaches what its environment names, plus what its event
	// sources make it read or write: a DynamoDB stream (Lambda reads it with
	// the function's role) and an on-failure destination (Lambda sends to it
	// with the function's role). Nothing else.
	var sourceRefs []any
	for _, e := range f.Events {
		if e.Type == "DynamoDB" {
			sourceRefs = append(sourceRefs, e.Properties["Stream"], e.Properties["DestinationConfig"])
		}
	}
	envRefs := slices.Compact(sortCopy(append(dataResources(tm, tm.References(f.Environment)), dataResources(tm, tm.References(sourceRefs))...)))
	sts, stProblems := statements(f)
	problems = append(problems, stProblems...)
	if len(sts) == 0 {
		bad("no policy statements")
	}
	var policyRefs []string
	usedServices := map[string]bool{}
	for _, st := range sts {
		if st["Effect"] != "Allow" {
			bad("statement effect %v; only Allow statements expected", st["Effect"])
		}
		for _, k := range []string{"NotAction", "NotResource", "Principal"} {
			if _, ok := st[k]; ok {
				bad("statement uses %s", k)
			}
		}
		actions := list(st["Action"])
		resources := list(st["Resource"])
		if len(actions) == 0 || len(resources) == 0 {
			bad("statement without Action or Resource: %v", st)
		}
		services := map[string]bool{}
		for _, a := range actions {
			s, _ := a.(string)
			svc, op, ok := strings.Cut(s, ":")
			if !ok || strings.Contains(s, "*") || op == "" {
				bad("action %q is a wildcard or malformed", s)
			}
			switch svc {
			case "dynamodb", "sqs", "secretsmanager", "ses":
			case "kms": // FenfuTable's customer-managed key (issue 12, F6): only on that key, below
			default:
				bad("action %q: only dynamodb:, sqs:, secretsmanager:, ses:, kms: are needed", s)
			}
			services[svc] = true
			usedServices[svc] = true
		}
		if len(services) > 1 {
			bad("statement mixes services %v; one service per statement keeps resources scoped", services)
		}
		for _, res := range resources {
			if s, ok := res.(string); ok {
				bad("resource %q is a literal; reference a declared resource or parameter", s)
				continue
			}
			ids := dataResources(tm, tm.References(res))
			policyRefs = append(policyRefs, ids...)
			for _, id := range ids {
				want := map[string]string{"AWS::DynamoDB::Table": "dynamodb", "AWS::SQS::Queue": "sqs"}[tm.Resources[id].Type]
				if !services[want] {
					bad("resource %s (%s) granted actions %v of another service", id, tm.Resources[id].Type, actions)
				}
			}
			if services["kms"] {
				for _, id := range tm.References(res) {
					if r, ok := tm.Resources[id]; !ok || r.Type != "AWS::KMS::Key" {
						bad("kms statement names %s, not a KMS key", id)
					}
				}
			}
			if services["secretsmanager"] && len(ids) != 0 {
				// Which secrets a function may read is checked by secretProblems.
				bad("secretsmanager statement names data resources %v", ids)
			}
		}
	}
	policyRefs = slices.Compact(sortCopy(policyRefs))
	if !slices.Equal(envRefs, policyRefs) {
		bad("tables/queues in Environment %v != tables/queues in Policies %v", envRefs, policyRefs)
	}
	if !usedServices["dynamodb"] && len(envRefs) > 0 {
		bad("no dynamodb permissions but environment names %v", envRefs)
	}
	return problems
}

func TestLeastPrivilege(t *testing.T) {
	tm := loadProduct(t)
	for _, f := range tm.Functions() {
		for _, p := range privilegeProblems(tm, f) {
			t.Errorf("%s: %s", f.LogicalID, p)
		}
	}
}

func sortCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func TestRoutes(t *testing.T) {
	tm := loadProduct(t)
	apis := map[string]bool{}
	for _, r := range tm.ResourcesOfType("AWS::Serverless::HttpApi") {
		apis[r.LogicalID] = true
	}
	if len(apis) == 0 {
		t.Fatal("no AWS::Serverless::HttpApi")
	}
	claimed := map[string]string{}
	n := 0
	for _, f := range tm.Functions() {
		if _, ok := tm.Resources[f.LogicalID]; !ok {
			t.Errorf("function %s is not a resource", f.LogicalID)
		}
		for _, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			n++
			m, p := e.Route()
			if m == "" || p == "" || !strings.HasPrefix(p, "/") {
				t.Errorf("%s.%s: route needs an explicit Method and Path, got %q %q", f.LogicalID, e.Name, m, p)
			}
			if id, _, err := template.RefTarget(e.Properties["ApiId"]); err != nil || !apis[id] {
				t.Errorf("%s.%s: ApiId must !Ref a declared HttpApi (%v, %v)", f.LogicalID, e.Name, e.Properties["ApiId"], err)
			}
			key := m + " " + p
			if other, ok := claimed[key]; ok {
				t.Errorf("route %q claimed by %s and %s.%s", key, other, f.LogicalID, e.Name)
			}
			claimed[key] = f.LogicalID + "." + e.Name
		}
	}
	for _, want := range []string{"GET /healthz", "GET /c/{token}", "POST /api/orders", "GET /api/orders/{id}", "POST /notify/wechat/{iface}", "POST /notify/alipay/{iface}"} {
		if claimed[want] == "" {
			t.Errorf("route %q missing", want)
		}
	}
	if n != len(claimed) {
		t.Errorf("%d routes but %d distinct", n, len(claimed))
	}
}

func TestGlobals(t *testing.T) {
	tm := loadProduct(t)
	g, _ := tm.Globals["Function"].(map[string]any)
	if g["Runtime"] != "provided.al2023" || g["Handler"] != "bootstrap" {
		t.Errorf("Globals.Function runtime/handler = %v/%v", g["Runtime"], g["Handler"])
	}
	if a := list(g["Architectures"]); len(a) != 1 || a[0] != "arm64" {
		t.Errorf("Globals.Function.Architectures = %v", g["Architectures"])
	}
	for _, f := range tm.Functions() {
		if f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !slices.Equal(f.Architectures, []string{"arm64"}) {
			t.Errorf("%s overrides the platform: %s %s %v", f.LogicalID, f.Runtime, f.Handler, f.Architectures)
		}
		if f.Timeout < 1 || f.Timeout > 900 || f.MemorySize < 128 {
			t.Errorf("%s: timeout %d, memory %d", f.LogicalID, f.Timeout, f.MemorySize)
		}
	}
}

func TestTables(t *testing.T) {
	tm := loadProduct(t)
	tables := tm.Tables()
	if len(tables) == 0 {
		t.Fatal("no tables")
	}
	for _, tb := range tables {
		p := tm.Resources[tb.LogicalID].Properties
		if p["BillingMode"] != "PAY_PER_REQUEST" {
			t.Errorf("%s: BillingMode %v", tb.LogicalID, p["BillingMode"])
		}
		if pitr, _ := p["PointInTimeRecoverySpecification"].(map[string]any); pitr["PointInTimeRecoveryEnabled"] != true {
			t.Errorf("%s: PITR not enabled", tb.LogicalID)
		}
		if sse, _ := p["SSESpecification"].(map[string]any); sse["SSEEnabled"] != true {
			t.Errorf("%s: SSE not enabled", tb.LogicalID)
		}
		if ttl, _ := p["TimeToLiveSpecification"].(map[string]any); tb.TTLAttribute == "" || ttl["Enabled"] != true {
			t.Errorf("%s: no enabled TTL attribute", tb.LogicalID)
		}
		// CloudFormation rejects undeclared key attributes and declared attributes no key uses.
		used := map[string]bool{tb.HashKey: true, tb.RangeKey: true}
		for _, ix := range tb.GSIs {
			used[ix.HashKey], used[ix.RangeKey] = true, true
			if ix.ProjectionType == "" {
				t.Errorf("%s.%s: no projection", tb.LogicalID, ix.Name)
			}
		}
		delete(used, "")
		for a := range used {
			if tb.Attributes[a] == "" {
				t.Errorf("%s: key attribute %s not in AttributeDefinitions", tb.LogicalID, a)
			}
		}
		for a := range tb.Attributes {
			if !used[a] {
				t.Errorf("%s: AttributeDefinitions has %s, which no key schema uses", tb.LogicalID, a)
			}
		}
		if tb.HashKey == "" {
			t.Errorf("%s: no hash key", tb.LogicalID)
		}
	}
}

func TestQueues(t *testing.T) {
	tm := loadProduct(t)
	qs, err := tm.Queues()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]template.Queue{}
	dlqs := map[string]bool{}
	for _, q := range qs {
		byID[q.LogicalID] = q
		if q.DeadLetterQueue != "" {
			dlqs[q.DeadLetterQueue] = true
		}
	}
	if len(dlqs) == 0 {
		t.Fatal("no queue has a DLQ")
	}
	// On-failure destinations of event source mappings are dead-letter
	// queues too: the mapping writes there after its retries.
	for _, f := range tm.Functions() {
		for _, e := range f.Events {
			for _, id := range dataResources(tm, tm.References(e.Properties["DestinationConfig"])) {
				dlqs[id] = true
			}
		}
	}
	for _, q := range qs {
		if tm.Resources[q.LogicalID].Properties["SqsManagedSseEnabled"] != true && tm.Resources[q.LogicalID].Properties["KmsMasterKeyId"] == nil {
			t.Errorf("%s: not encrypted at rest", q.LogicalID)
		}
		if dlqs[q.LogicalID] {
			if q.DeadLetterQueue != "" {
				t.Errorf("%s: a DLQ must not redrive further", q.LogicalID)
			}
			continue
		}
		if q.DeadLetterQueue == "" {
			t.Errorf("%s: neither a DLQ nor has a RedrivePolicy", q.LogicalID)
			continue
		}
		dlq, ok := byID[q.DeadLetterQueue]
		if !ok {
			t.Errorf("%s: DLQ %s is not a declared queue", q.LogicalID, q.DeadLetterQueue)
			continue
		}
		if q.MaxReceiveCount < 1 {
			t.Errorf("%s: maxReceiveCount %d", q.LogicalID, q.MaxReceiveCount)
		}
		if dlq.RetentionSeconds < q.RetentionSeconds {
			t.Errorf("%s: DLQ %s keeps messages %ds, less than the source's %ds (messages keep their original enqueue time)", q.LogicalID, dlq.LogicalID, dlq.RetentionSeconds, q.RetentionSeconds)
		}
	}
	// Consumers: visibility timeout at least 6x the function timeout (AWS guidance).
	for _, f := range tm.Functions() {
		for _, e := range f.Events {
			if e.Type != "SQS" {
				continue
			}
			id, _, err := template.RefTarget(e.Properties["Queue"])
			if err != nil {
				t.Errorf("%s.%s: %v", f.LogicalID, e.Name, err)
				continue
			}
			q, ok := byID[id]
			if !ok {
				t.Errorf("%s.%s: queue %s not declared", f.LogicalID, e.Name, id)
				continue
			}
			if q.VisibilityTimeoutSeconds < 6*f.Timeout {
				t.Errorf("%s: visibility %ds < 6 x %s timeout %ds", id, q.VisibilityTimeoutSeconds, f.LogicalID, f.Timeout)
			}
		}
	}
}

func TestSchedules(t *testing.T) {
	tm := loadProduct(t)
	n := 0
	for _, f := range tm.Functions() {
		for _, e := range f.Events {
			switch e.Type {
			case "Schedule":
				t.Errorf("%s.%s: use ScheduleV2 (EventBridge Scheduler) for a time zone", f.LogicalID, e.Name)
			case "ScheduleV2":
				n++
				tz, _ := e.Properties["ScheduleExpressionTimezone"].(string)
				if tz != "Asia/Shanghai" {
					t.Errorf("%s.%s: time zone %q, want Asia/Shanghai", f.LogicalID, e.Name, tz)
				}
				expr, _ := e.Properties["ScheduleExpression"].(string)
				if _, err := schedule.Parse(expr, tz); err != nil {
					t.Errorf("%s.%s: %v", f.LogicalID, e.Name, err)
				}
				if in, ok := e.Properties["Input"].(string); ok && !json.Valid([]byte(in)) {
					t.Errorf("%s.%s: Input %q is not JSON", f.LogicalID, e.Name, in)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no ScheduleV2 event")
	}
}

func TestAlarms(t *testing.T) {
	tm := loadProduct(t)
	type dim struct{ ns, metric, name, target string }
	have := map[dim]string{}
	for _, a := range tm.ResourcesOfType("AWS::CloudWatch::Alarm") {
		p := a.Properties
		ns, _ := p["Namespace"].(string)
		metric, _ := p["MetricName"].(string)
		for _, d := range list(p["Dimensions"]) {
			dm, _ := d.(map[string]any)
			name, _ := dm["Name"].(string)
			id, attr, err := template.RefTarget(dm["Value"])
			if err != nil {
				t.Errorf("%s: dimension %s value %v is not a reference", a.LogicalID, name, dm["Value"])
				continue
			}
			have[dim{ns, metric, name, id + "." + attr}] = a.LogicalID
		}
		if p["ComparisonOperator"] == nil || p["Threshold"] == nil || p["EvaluationPeriods"] == nil {
			t.Errorf("%s: incomplete alarm", a.LogicalID)
		}
		if p["TreatMissingData"] != "notBreaching" {
			t.Errorf("%s: TreatMissingData %v", a.LogicalID, p["TreatMissingData"])
		}
	}
	for _, f := range tm.Functions() {
		if have[dim{"AWS/Lambda", "Errors", "FunctionName", f.LogicalID + "."}] == "" {
			t.Errorf("no Errors alarm for %s (FunctionName: !Ref %s)", f.LogicalID, f.LogicalID)
		}
	}
	qs, _ := tm.Queues()
	for _, q := range qs {
		if q.DeadLetterQueue == "" {
			continue
		}
		if have[dim{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.DeadLetterQueue + ".QueueName"}] == "" {
			t.Errorf("no depth alarm for DLQ %s (QueueName: !GetAtt %s.QueueName)", q.DeadLetterQueue, q.DeadLetterQueue)
		}
	}
}

// The least-privilege check catches what it is meant to catch.
func TestLeastPrivilegeCheckFlagsViolations(t *testing.T) {
	const tmpl = `
Parameters:
  Stage: { Type: String, Default: dev }
Resources:
  T1: { Type: AWS::DynamoDB::Table }
  T2: { Type: AWS::DynamoDB::Table }
  Q: { Type: AWS::SQS::Queue }
  Good:
    Type: AWS::Serverless::Function
    Properties:
      Environment: { Variables: { TABLE: !Ref T1 } }
      Policies:
        - Statement:
            - { Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt T1.Arn }
  ExtraGrant:
    Type: AWS::Serverless::Function
    Properties:
      Environment: { Variables: { TABLE: !Ref T1 } }
      Policies:
        - Statement:
            - { Effect: Allow, Action: [dynamodb:GetItem], Resource: [!GetAtt T1.Arn, !GetAtt T2.Arn] }
  MissingGrant:
    Type: AWS::Serverless::Function
    Properties:
      Environment: { Variables: { TABLE: !Ref T1, QUEUE: !Ref Q } }
      Policies:
        - Statement:
            - { Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt T1.Arn }
  Wildcards:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: ["dynamodb:*"], Resource: "*" }
            - { Effect: Allow, Action: [s3:GetObject], Resource: !Sub "arn:aws:s3:::b/${Stage}" }
  Managed:
    Type: AWS::Serverless::Function
    Properties:
      Policies: [AmazonDynamoDBFullAccess]
  CrossService:
    Type: AWS::Serverless::Function
    Properties:
      Environment: { Variables: { QUEUE: !Ref Q } }
      Policies:
        - Statement:
            - { Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt Q.Arn }
`
	tm, err := template.Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Good":         nil,
		"ExtraGrant":   {"Environment [T1] != tables/queues in Policies [T1 T2]"},
		"MissingGrant": {"Environment [Q T1] != tables/queues in Policies [T1]"},
		"Wildcards":    {`action "dynamodb:*" is a wildcard`, `resource "*" is a literal`, `action "s3:GetObject": only`},
		"Managed":      {"not an inline statement list", "no policy statements"},
		"CrossService": {"granted actions [dynamodb:GetItem] of another service"},
	}
	for _, f := range tm.Functions() {
		got := strings.Join(privilegeProblems(tm, f), "\n")
		if want[f.LogicalID] == nil && got != "" {
			t.Errorf("%s: unexpected problems:\n%s", f.LogicalID, got)
		}
		for _, w := range want[f.LogicalID] {
			if !strings.Contains(got, w) {
				t.Errorf("%s: problems do not mention %q:\n%s", f.LogicalID, w, got)
			}
		}
	}
}

// The reference walker finds broken references in every form and section.
func TestReferenceCheckFlagsBrokenReferences(t *testing.T) {
	const src = `
Parameters:
  Stage: { Type: String }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  Bad: !Equals [!Ref Nope1, x]
Resources:
  Q: { Type: AWS::SQS::Queue }
  T: { Type: AWS::DynamoDB::Table }
  F:
    Type: AWS::Serverless::Function
    Condition: NoSuchCondition
    Properties:
      Environment:
        Variables:
          A: !GetAtt Q.StreamArn
          B: !Sub "${Nope2}-${Stage}-${AWS::Region}-${!Literal}-${T.Arn}"
          C: !Sub ["${X}-${Nope3.Arn}", { X: !Ref Nope4 }]
          D: { "Fn::GetAtt": [Nope5, Arn] }
          E: !If [NoSuchIf, a, !Ref Q]
          F: { Ref: Nope6 }
          G: !GetAtt T.QueueUrl
Outputs:
  O: { Value: !Ref Nope7 }
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	tm, err := template.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	problems, _ := refProblems(tm, collectRefs(t, doc.Content[0]), map[string]bool{"IsProd": true, "Bad": true})
	got := strings.Join(problems, "\n")
	for _, w := range []string{`Ref "Nope1"`, `Ref "Nope2"`, "GetAtt Nope3.Arn", `Ref "Nope4"`, "GetAtt Nope5.Arn", `Ref "Nope6"`, `Ref "Nope7"`,
		"GetAtt Q.StreamArn", "GetAtt T.QueueUrl", `condition "NoSuchCondition"`, `condition "NoSuchIf"`} {
		if !strings.Contains(got, w) {
			t.Errorf("problems do not mention %s:\n%s", w, got)
		}
	}
	if len(problems) != 11 {
		t.Errorf("want 11 problems (Stage, AWS::Region, ${!Literal}, T.Arn, X and Q are fine), got %d:\n%s", len(problems), got)
	}
}

func TestTableStreamSpecification(t *testing.T) {
	tm, err := template.Parse([]byte(`
Resources:
  Streamed:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
      StreamSpecification: { StreamViewType: NEW_AND_OLD_IMAGES }
      TimeToLiveSpecification: { AttributeName: expires_at, Enabled: true }
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: S }]
      KeySchema: [{ AttributeName: pk, KeyType: HASH }]
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]template.Table{}
	for _, tb := range tm.Tables() {
		got[tb.LogicalID] = tb
	}
	if s := got["Streamed"]; s.StreamViewType != "NEW_AND_OLD_IMAGES" || s.TTLAttribute != "expires_at" {
		t.Errorf("Streamed: %+v", s)
	}
	if p := got["Plain"]; p.StreamViewType != "" || p.TTLAttribute != "" {
		t.Errorf("Plain: %+v", p)
	}
}
