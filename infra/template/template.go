// Package template reads the SAM template (template.yaml), the one source of truth
// for functions, routes, tables, queues and schedules. The local stack, the
// build and the template tests all read it through this package.
//
// CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) are turned into their long
// forms ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...), so callers see one shape.
package template

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	Parameters map[string]Parameter
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Parameter is a template parameter.
type Parameter struct {
	Type    string
	Default string
}

// Resource is one resource with its logical id.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
}

// Load parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse parses template bytes.
func Parse(b []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("template: empty document")
	}
	v, err := decode(doc.Content[0])
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template: top level is not a mapping")
	}
	t := &Template{Parameters: map[string]Parameter{}, Resources: map[string]Resource{}}
	for name, p := range asMap(root["Parameters"]) {
		pm := asMap(p)
		t.Parameters[name] = Parameter{Type: asString(pm["Type"]), Default: scalarString(pm["Default"])}
	}
	t.Globals = asMap(root["Globals"])
	t.Outputs = asMap(root["Outputs"])
	for id, r := range asMap(root["Resources"]) {
		rm := asMap(r)
		t.Resources[id] = Resource{LogicalID: id, Type: asString(rm["Type"]), Properties: asMap(rm["Properties"])}
	}
	return t, nil
}

// ResourcesOfType returns the resources of one type, sorted by logical id.
func (t *Template) ResourcesOfType(typ string) []Resource {
	var out []Resource
	for _, r := range t.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

var intrinsicTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
}

func decode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return decode(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := decode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := decode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("template: line %d: %w", n.Line, err)
			}
			v = i
		case "!!bool":
			v = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("template: line %d: unsupported node", n.Line)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name, ok := intrinsicTags[n.Tag]
		if !ok {
			return nil, fmt.Errorf("template: line %d: unknown tag %s", n.Line, n.Tag)
		}
		if name == "Fn::GetAtt" {
			if s, ok := v.(string); ok {
				id, attr, _ := strings.Cut(s, ".")
				v = []any{id, attr}
			}
		}
		return map[string]any{name: v}, nil
	}
	return v, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func asBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

func asInt(v any, def int) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case string:
		if i, err := strconv.Atoi(x); err == nil {
			return i
		}
	}
	return def
}
