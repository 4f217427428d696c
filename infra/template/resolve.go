package template

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Resolver turns intrinsic values into strings for one deployment (the cloud's
// CloudFormation does this on deploy; the local stack does it with its own
// physical names and URLs).
type Resolver struct {
	// Params are parameter values; missing ones fall back to the template default.
	Params map[string]string
	// Pseudo are pseudo parameters such as AWS::Region, AWS::AccountId, AWS::StackName.
	Pseudo map[string]string
	// Ref resolves !Ref of a resource; GetAtt resolves !GetAtt. ok=false is an error.
	Ref    func(logicalID string) (string, bool)
	GetAtt func(logicalID, attr string) (string, bool)
	T      *Template
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// String resolves v to a string.
func (r Resolver) String(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64, bool:
		return scalarString(x), nil
	case map[string]any:
		if ref, ok := x["Ref"]; ok {
			return r.ref(asString(ref))
		}
		if g, ok := x["Fn::GetAtt"]; ok {
			l := asList(g)
			if len(l) != 2 {
				return "", fmt.Errorf("template: bad GetAtt %v", g)
			}
			return r.getAtt(asString(l[0]), asString(l[1]))
		}
		if s, ok := x["Fn::Sub"]; ok {
			return r.sub(s)
		}
		if j, ok := x["Fn::Join"]; ok {
			l := asList(j)
			if len(l) != 2 {
				return "", fmt.Errorf("template: bad Join %v", j)
			}
			var parts []string
			for _, p := range asList(l[1]) {
				s, err := r.String(p)
				if err != nil {
					return "", err
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, asString(l[0])), nil
		}
	}
	return "", fmt.Errorf("template: cannot resolve %v", v)
}

func (r Resolver) ref(name string) (string, error) {
	if v, ok := r.Pseudo[name]; ok {
		return v, nil
	}
	if v, ok := r.Params[name]; ok {
		return v, nil
	}
	if r.T != nil {
		if p, ok := r.T.Parameters[name]; ok {
			return p.Default, nil
		}
	}
	if r.Ref != nil {
		if v, ok := r.Ref(name); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("template: unresolved Ref %s", name)
}

func (r Resolver) getAtt(id, attr string) (string, error) {
	if r.GetAtt != nil {
		if v, ok := r.GetAtt(id, attr); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("template: unresolved GetAtt %s.%s", id, attr)
}

func (r Resolver) sub(v any) (string, error) {
	var tmpl string
	vars := map[string]any{}
	switch x := v.(type) {
	case string:
		tmpl = x
	case []any:
		if len(x) != 2 {
			return "", fmt.Errorf("template: bad Sub %v", v)
		}
		tmpl = asString(x[0])
		vars = asMap(x[1])
	default:
		return "", fmt.Errorf("template: bad Sub %v", v)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		var s string
		var err error
		if val, ok := vars[name]; ok {
			s, err = r.String(val)
		} else if id, attr, ok := strings.Cut(name, "."); ok {
			s, err = r.getAtt(id, attr)
		} else {
			s, err = r.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	})
	// ${!Literal} renders as ${Literal}.
	return strings.ReplaceAll(out, "${!", "${"), firstErr
}

// References lists every resource logical id that v refers to (Ref, GetAtt, and
// ${...} inside Sub), parameters and pseudo parameters excluded.
func (t *Template) References(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	add := func(id string) {
		if _, ok := t.Resources[id]; ok {
			seen[id] = true
		}
	}
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				switch k {
				case "Ref":
					add(asString(val))
					continue
				case "Fn::GetAtt":
					if l := asList(val); len(l) > 0 {
						add(asString(l[0]))
					}
					continue
				case "Fn::Sub":
					s := val
					if l := asList(val); len(l) > 0 {
						s = l[0]
						walk(l[1:])
					}
					for _, m := range subVar.FindAllStringSubmatch(asString(s), -1) {
						id, _, _ := strings.Cut(m[1], ".")
						add(id)
					}
					continue
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	var out []string
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
