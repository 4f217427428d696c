package template_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/template"
)

const miniTemplate = `
Parameters:
  Stage:
    Type: String
    Default: dev
  Max:
    Type: Number
    Default: 5000000
  Empty:
    Type: String
    Default: ""
Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 10
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DLQ.Arn
        maxReceiveCount: 3
  DLQ:
    Type: AWS::SQS::Queue
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn
      Timeout: 30
      Environment:
        Variables:
          TABLE: !Ref T
          QUEUE: !GetAtt [Q, QueueUrl]
          ARN: !Sub "${T.Arn}/index/x"
          NESTED: !GetAtt Cluster.Endpoint.Address
          JOINED: !Join [",", [a, !Ref Stage]]
          FLAG: true
          NUM: 42
          SUBVARS: !Sub ["${A}-${Stage}", { A: !Ref T }]
          COND: !If [IsProd, !Ref Stage, !Ref "AWS::NoValue"]
      Events:
        B:
          Type: HttpApi
          Properties: { Method: post, Path: /b }
        A:
          Type: SQS
          Properties: { Queue: !GetAtt Q.Arn, BatchSize: 5 }
`

func parseMini(t *testing.T) *template.Template {
	t.Helper()
	tm, err := template.Parse([]byte(miniTemplate))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParseShortTags(t *testing.T) {
	tm := parseMini(t)
	fns := tm.Functions()
	if len(fns) != 1 {
		t.Fatalf("functions: %v", fns)
	}
	env := fns[0].Environment
	want := map[string]any{
		"STAGE":   map[string]any{"Ref": "Stage"}, // from Globals
		"TABLE":   map[string]any{"Ref": "T"},
		"QUEUE":   map[string]any{"Fn::GetAtt": []any{"Q", "QueueUrl"}},
		"ARN":     map[string]any{"Fn::Sub": "${T.Arn}/index/x"},
		"NESTED":  map[string]any{"Fn::GetAtt": []any{"Cluster", "Endpoint.Address"}},
		"JOINED":  map[string]any{"Fn::Join": []any{",", []any{"a", map[string]any{"Ref": "Stage"}}}},
		"FLAG":    true,
		"NUM":     int64(42),
		"SUBVARS": map[string]any{"Fn::Sub": []any{"${A}-${Stage}", map[string]any{"A": map[string]any{"Ref": "T"}}}},
		"COND":    map[string]any{"Fn::If": []any{"IsProd", map[string]any{"Ref": "Stage"}, map[string]any{"Ref": "AWS::NoValue"}}},
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("environment:\n got %#v\nwant %#v", env, want)
	}
	f := fns[0]
	if f.Runtime != "provided.al2023" || f.Timeout != 30 || f.MemorySize != 128 || f.CodeURI != "functions/fn" {
		t.Errorf("globals merge: %+v", f)
	}
	if len(f.Events) != 2 || f.Events[0].Name != "A" || f.Events[1].Name != "B" {
		t.Fatalf("events not sorted by name: %+v", f.Events)
	}
	if m, p := f.Events[1].Route(); m != "POST" || p != "/b" {
		t.Errorf("route %s %s", m, p)
	}
	if p := tm.Parameters["Max"]; p.Default != "5000000" || p.Type != "Number" {
		t.Errorf("int default: %+v", p)
	}
	if p := tm.Parameters["Empty"]; p.Default != "" {
		t.Errorf("empty default: %+v", p)
	}
	qs, err := tm.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[1].LogicalID != "Q" || qs[1].DeadLetterQueue != "DLQ" || qs[1].MaxReceiveCount != 3 || qs[1].VisibilityTimeoutSeconds != 5 {
		t.Errorf("queues: %+v", qs)
	}
	if qs[0].VisibilityTimeoutSeconds != 30 || qs[0].RetentionSeconds != 345600 {
		t.Errorf("queue defaults: %+v", qs[0])
	}
	if got := tm.References(f.Environment); !reflect.DeepEqual(got, []string{"Q", "T"}) {
		t.Errorf("References = %v, want [Q T] (Cluster is not declared; Stage is a parameter)", got)
	}
}

func TestParseErrors(t *testing.T) {
	for name, src := range map[string]string{
		"unknown tag":    "Resources:\n  X: !Bogus y\n",
		"empty":          "",
		"not a mapping":  "- a\n- b\n",
		"bad yaml":       "a: [b\n",
		"bad int scalar": "a: !!int zz\n",
	} {
		if _, err := template.Parse([]byte(src)); err == nil {
			t.Errorf("%s: Parse accepted %q", name, src)
		}
	}
}

func miniResolver(tm *template.Template) template.Resolver {
	return template.Resolver{
		T:      tm,
		Params: map[string]string{"Stage": "prod"},
		Pseudo: map[string]string{"AWS::Region": "cn-north-1", "AWS::Partition": "aws-cn"},
		Ref: func(id string) (string, bool) {
			if _, ok := tm.Resources[id]; ok {
				return "phys-" + id, true
			}
			return "", false
		},
		GetAtt: func(id, attr string) (string, bool) {
			if id == "T" && attr == "Arn" {
				return "arn:t", true
			}
			if id == "Q" && (attr == "QueueUrl" || attr == "Arn") {
				return "q-" + attr, true
			}
			return "", false
		},
	}
}

func TestResolver(t *testing.T) {
	tm := parseMini(t)
	r := miniResolver(tm)
	cases := []struct {
		in   any
		want string
	}{
		{"plain", "plain"},
		{int64(42), "42"},
		{true, "true"},
		{map[string]any{"Ref": "Stage"}, "prod"},             // Params win over the default
		{map[string]any{"Ref": "Max"}, "5000000"},            // default
		{map[string]any{"Ref": "Empty"}, ""},                 // empty default is a value
		{map[string]any{"Ref": "AWS::Region"}, "cn-north-1"}, // pseudo
		{map[string]any{"Ref": "T"}, "phys-T"},               // resource
		{map[string]any{"Fn::GetAtt": []any{"Q", "QueueUrl"}}, "q-QueueUrl"},
		{map[string]any{"Fn::Sub": "${T.Arn}/index/x"}, "arn:t/index/x"},
		{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x:${Stage}:${T}"}, "arn:aws-cn:x:prod:phys-T"},
		{map[string]any{"Fn::Sub": []any{"${A}-${Stage}", map[string]any{"A": map[string]any{"Ref": "T"}}}}, "phys-T-prod"},
		{map[string]any{"Fn::Sub": []any{"${Stage}", map[string]any{"Stage": "shadowed"}}}, "shadowed"},
		{map[string]any{"Fn::Join": []any{",", []any{"a", map[string]any{"Ref": "Stage"}, map[string]any{"Fn::GetAtt": []any{"Q", "Arn"}}}}}, "a,prod,q-Arn"},
		{map[string]any{"Fn::Join": []any{"", []any{}}}, ""},
		{map[string]any{"Fn::Sub": "no vars"}, "no vars"},
	}
	for _, c := range cases {
		got, err := r.String(c.in)
		if err != nil || got != c.want {
			t.Errorf("String(%v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}

	// Parsed short tags resolve the same way.
	env := tm.Functions()[0].Environment
	for k, want := range map[string]string{"TABLE": "phys-T", "QUEUE": "q-QueueUrl", "ARN": "arn:t/index/x", "JOINED": "a,prod", "STAGE": "prod", "SUBVARS": "phys-T-prod", "NUM": "42", "FLAG": "true"} {
		if got, err := r.String(env[k]); err != nil || got != want {
			t.Errorf("env %s = %q, %v; want %q", k, got, err, want)
		}
	}
}

func TestResolverUnresolved(t *testing.T) {
	tm := parseMini(t)
	r := miniResolver(tm)
	for _, in := range []any{
		map[string]any{"Ref": "Nope"},
		map[string]any{"Fn::GetAtt": []any{"Nope", "Arn"}},
		map[string]any{"Fn::GetAtt": []any{"T", "StreamArn"}}, // declared, attribute unknown to the deployment
		map[string]any{"Fn::GetAtt": []any{"T"}},
		map[string]any{"Fn::Sub": "x-${Nope}"},
		map[string]any{"Fn::Sub": "x-${Nope.Arn}"},
		map[string]any{"Fn::Sub": []any{"${A}", map[string]any{"A": map[string]any{"Ref": "Nope"}}}},
		map[string]any{"Fn::Sub": []any{"${A}"}},
		map[string]any{"Fn::Sub": int64(3)},
		map[string]any{"Fn::Join": []any{",", []any{"a", map[string]any{"Ref": "Nope"}}}},
		map[string]any{"Fn::Join": []any{","}},
		map[string]any{"Fn::If": []any{"IsProd", "a", "b"}},
		map[string]any{"Fn::Select": []any{int64(0), []any{"a"}}},
		map[string]any{},
		[]any{"a"},
		nil,
	} {
		if got, err := r.String(in); err == nil {
			t.Errorf("String(%#v) = %q, want an error", in, got)
		}
	}
	// A resolver without Ref/GetAtt hooks errors instead of panicking.
	bare := template.Resolver{}
	if _, err := bare.String(map[string]any{"Ref": "T"}); err == nil {
		t.Error("bare resolver resolved a resource Ref")
	}
	if _, err := bare.String(map[string]any{"Fn::Sub": "${T.Arn}"}); err == nil || !strings.Contains(err.Error(), "T.Arn") {
		t.Errorf("bare resolver Sub: %v", err)
	}
}

// CloudFormation renders ${!Literal} as the literal text ${Literal}.
func TestResolverSubLiteral(t *testing.T) {
	r := miniResolver(parseMini(t))
	got, err := r.String(map[string]any{"Fn::Sub": "${!Literal}-${Stage}"})
	if err != nil || got != "${Literal}-prod" {
		t.Errorf("Sub ${!Literal} = %q, %v; want %q", got, err, "${Literal}-prod")
	}
}
