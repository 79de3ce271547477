package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ghodss/yaml"
)

// parseValues reads a values document as Helm does (sigs.k8s.io/yaml: YAML -> JSON, so numbers are float64).
func parseValues(data []byte) (map[string]interface{}, error) {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// mergeMaps is Helm's CLI merge of -f files: maps merge recursively, anything else in b replaces a.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce lays user values over the chart's defaults as Helm's CoalesceValues does: a user null deletes the key.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		if um, ok := v.(map[string]interface{}); ok {
			if dm, ok := out[k].(map[string]interface{}); ok {
				out[k] = coalesce(um, dm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// parseSet applies one --set / --set-string argument ("a.b=c,d[0]=e,f={x,y}") to vals, following Helm's strvals:
// '\' escapes the next character, values are typed (bool, null, int64) unless asString.
func parseSet(expr string, vals map[string]interface{}, asString bool) error {
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		key, next := rawUntil(rs, i, '=')
		if next >= len(rs) {
			return fmt.Errorf("--set %q: key %q has no value", expr, key)
		}
		i = next + 1
		var val interface{}
		if i < len(rs) && rs[i] == '{' {
			raw, end := rawUntil(rs, i+1, '}')
			if end >= len(rs) {
				return fmt.Errorf("--set %q: list for %q is not closed with }", expr, key)
			}
			items := []interface{}{}
			for _, it := range splitEscaped(raw, ',') {
				if raw != "" { // {} is an empty list
					items = append(items, typedVal(it, asString))
				}
			}
			val, i = items, end+1
			if i < len(rs) && rs[i] != ',' {
				return fmt.Errorf("--set %q: expected , after list for %q", expr, key)
			}
			i++
		} else {
			raw, end := rawUntil(rs, i, ',')
			val, i = typedVal(unescape(raw), asString), end+1
		}
		if err := setPath(vals, key, val); err != nil {
			return fmt.Errorf("--set %q: %w", expr, err)
		}
	}
	return nil
}

// rawUntil returns the text from i to the first unescaped stop, escapes kept, and the stop's index.
func rawUntil(rs []rune, i int, stop rune) (string, int) {
	start := i
	for ; i < len(rs) && rs[i] != stop; i++ {
		if rs[i] == '\\' {
			i++
		}
	}
	if i > len(rs) {
		i = len(rs)
	}
	return string(rs[start:i]), i
}

// unescape drops the backslash of every escaped character.
func unescape(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			i++
		}
		b.WriteRune(rs[i])
	}
	return b.String()
}

// splitEscaped splits on unescaped sep and unescapes the parts.
func splitEscaped(s string, sep rune) []string {
	var out []string
	rs := []rune(s)
	for i := 0; ; {
		part, end := rawUntil(rs, i, sep)
		out = append(out, unescape(part))
		if end >= len(rs) {
			return out
		}
		i = end + 1
	}
}

func typedVal(s string, asString bool) interface{} {
	switch {
	case asString:
		return s
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case s == "0":
		return int64(0)
	}
	if s != "" && s[0] != '0' {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

// pathStep is one segment of a --set key: a map key, optionally followed by list indices (a[0][1]).
type pathStep struct {
	key     string
	indices []int
}

const maxIndex = 65536 // Helm's strvals limit, so a typo cannot allocate a huge list

// parsePath splits a raw key on unescaped dots ("nodeSelector.kubernetes\\.io/os").
func parsePath(key string) ([]pathStep, error) {
	var steps []pathStep
	for _, seg := range splitEscaped(key, '.') {
		st := pathStep{}
		name := seg
		if b := strings.IndexByte(seg, '['); b >= 0 {
			name = seg[:b]
			for rest := seg[b:]; rest != ""; {
				end := strings.IndexByte(rest, ']')
				if rest[0] != '[' || end < 0 {
					return nil, fmt.Errorf("bad list index in %q", key)
				}
				n, err := strconv.Atoi(rest[1:end])
				if err != nil || n < 0 || n > maxIndex {
					return nil, fmt.Errorf("bad list index in %q", key)
				}
				st.indices = append(st.indices, n)
				rest = rest[end+1:]
			}
		}
		if name == "" {
			return nil, fmt.Errorf("empty key segment in %q", key)
		}
		st.key = name
		steps = append(steps, st)
	}
	return steps, nil
}

func setPath(vals map[string]interface{}, key string, val interface{}) error {
	steps, err := parsePath(key)
	if err != nil {
		return err
	}
	var set func(cur interface{}, steps []pathStep, idx []int) interface{}
	set = func(cur interface{}, steps []pathStep, idx []int) interface{} {
		if len(idx) > 0 {
			list, _ := cur.([]interface{})
			for len(list) <= idx[0] {
				list = append(list, nil)
			}
			list[idx[0]] = set(list[idx[0]], steps, idx[1:])
			return list
		}
		if len(steps) == 0 {
			return val
		}
		m, ok := cur.(map[string]interface{})
		if !ok {
			m = map[string]interface{}{}
		}
		m[steps[0].key] = set(m[steps[0].key], steps[1:], steps[0].indices)
		return m
	}
	first := steps[0]
	vals[first.key] = set(vals[first.key], steps[1:], first.indices)
	return nil
}
