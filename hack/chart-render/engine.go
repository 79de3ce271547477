package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
)

// Helm wraps messages of required/fail in these markers so they survive text/template's error chain.
const (
	warnStart = "HELM_ERR_START"
	warnEnd   = "HELM_ERR_END"
	maxDepth  = 1000 // Helm's recursion limit for include
)

// Non-greedy: with nested includes the innermost (first) wrapped message is the one to report.
var warnRegexp = regexp.MustCompile(warnStart + `((?s).*?)` + warnEnd)

func warnWrap(msg string) string { return warnStart + msg + warnEnd }

// funcMap is sprig's text functions without env/expandenv plus Helm's additions (pkg/engine/funcs.go).
// include and tpl are bound per template set in bindLateFuncs.
func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	helm := template.FuncMap{
		"toYaml":        toYAML,
		"mustToYaml":    mustToYAML,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"mustToJson":    mustToJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"required":      required,
		"fail":          func(msg string) (string, error) { return "", errors.New(warnWrap(msg)) },
		// There is no cluster to ask: lookup returns an empty map, as `helm template` does.
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		"include": func(string, interface{}) string { return "not implemented" },
		"tpl":     func(string, interface{}) interface{} { return "not implemented" },
	}
	for k, v := range helm {
		f[k] = v
	}
	return f
}

func required(msg string, val interface{}) (interface{}, error) {
	if s, ok := val.(string); val == nil || (ok && s == "") {
		return val, errors.New(warnWrap(msg))
	}
	return val, nil
}

func toYAML(v interface{}) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(out), "\n")
}

func mustToYAML(v interface{}) string {
	out, err := yaml.Marshal(v)
	if err != nil {
		panic(err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	out, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(out)
}

func mustToJSON(v interface{}) string {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(out)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

// bindLateFuncs gives t the include and tpl functions that close over t itself, as Helm's initFunMap does.
func bindLateFuncs(t *template.Template, depth map[string]int) {
	t.Funcs(template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			if depth[name] > maxDepth {
				return "", errors.New(warnWrap("rendering template has a nested reference name: " + name))
			}
			depth[name]++
			defer func() { depth[name]-- }()
			var b strings.Builder
			err := t.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			clone, err := t.Clone()
			if err != nil {
				return "", fmt.Errorf("cannot clone template: %w", err)
			}
			bindLateFuncs(clone, depth)
			parsed, err := clone.New(t.Name()).Parse(text)
			if err != nil {
				return "", fmt.Errorf("cannot parse template %q: %w", text, err)
			}
			var b strings.Builder
			if err := parsed.Execute(&b, data); err != nil {
				return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
			}
			return strings.ReplaceAll(b.String(), "<no value>", ""), nil
		},
	})
}

// renderTemplates parses every template into one set (so defines are shared) and executes all but `_*` partials.
// top is the object templates see as "."; Template.Name is set per file.
func renderTemplates(chartName string, tpls map[string]string, top map[string]interface{}) (map[string]string, error) {
	t := template.New("gotpl").Option("missingkey=zero").Funcs(funcMap())
	bindLateFuncs(t, map[string]int{})
	names := parseOrder(tpls)
	for _, name := range names {
		if _, err := t.New(name).Parse(tpls[name]); err != nil {
			return nil, cleanupParseError(name, err)
		}
	}
	out := map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(chartName, "templates")}
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, name, vals); err != nil {
			return nil, cleanupExecError(name, err)
		}
		out[name] = strings.ReplaceAll(b.String(), "<no value>", "")
	}
	return out, nil
}

// parseOrder is Helm's sortTemplates: deeper paths first, then reverse lexical order.
func parseOrder(tpls map[string]string) []string {
	names := make([]string, 0, len(tpls))
	for k := range tpls {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		ci, cj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if ci != cj {
			return ci > cj
		}
		return names[i] > names[j]
	})
	return names
}

func cleanupParseError(name string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) == 1 {
		return fmt.Errorf("parse error in (%s): %s", name, err)
	}
	return fmt.Errorf("parse error at (%s): %s", tokens[1], tokens[len(tokens)-1])
}

func cleanupExecError(name string, err error) error {
	var execErr template.ExecError
	if !errors.As(err, &execErr) {
		if m := warnRegexp.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("execution error in (%s): %s", name, m[1])
		}
		return fmt.Errorf("execution error in (%s): %s", name, err)
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %s", name, err)
	}
	if m := warnRegexp.FindStringSubmatch(tokens[2]); m != nil {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], m[1])
	}
	return fmt.Errorf("execution error at (%s): %s", tokens[1], tokens[2])
}

// Manifest is one YAML document of the output, named by the template it came from.
type Manifest struct {
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Content string `json:"content"`
}

// installOrder is Helm's InstallOrder (pkg/release/util/kind_sorter.go).
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
	"PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
	"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
	"IngressClass", "Ingress", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*`)

// sortManifests is Helm's SortManifests without hooks: files in lexical order split into non-empty documents,
// then a stable sort by kind in install order (unknown kinds last, alphabetically).
func sortManifests(rendered map[string]string) ([]Manifest, error) {
	var out []Manifest
	for _, name := range sortedKeys(rendered) {
		for _, doc := range docSeparator.Split(rendered[name], -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %w", name, err)
			}
			if _, ok := head.Metadata.Annotations["helm.sh/hook"]; ok {
				return nil, fmt.Errorf("%s: Helm hooks are not supported by this renderer", name)
			}
			out = append(out, Manifest{Source: name, Kind: head.Kind, Content: doc})
		}
	}
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, iok := rank[out[i].Kind]
		rj, jok := rank[out[j].Kind]
		switch {
		case !iok && !jok:
			return out[i].Kind < out[j].Kind
		case !iok || !jok:
			return iok
		}
		return ri < rj
	})
	return out, nil
}

// KubeVersion, VersionSet and Capabilities mirror Helm's chartutil types so templates use the same fields.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	normalized string
}

func (k *KubeVersion) String() string     { return k.normalized }
func (k *KubeVersion) GitVersion() string { return k.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

var kubeVersionRegexp = regexp.MustCompile(`^v?(\d+)\.(\d+)(\.\d+)?([-+].*)?$`)

func parseKubeVersion(s string) (KubeVersion, error) {
	m := kubeVersionRegexp.FindStringSubmatch(s)
	if m == nil {
		return KubeVersion{}, fmt.Errorf("invalid kube version %q (want e.g. v1.32.0)", s)
	}
	patch := m[3]
	if patch == "" {
		patch = ".0"
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return KubeVersion{
		Version:    "v" + strings.TrimPrefix(s, "v"),
		Major:      m[1],
		Minor:      m[2],
		normalized: fmt.Sprintf("v%d.%d%s", major, minor, patch),
	}, nil
}

// builtinAPIVersions are the group versions a v1.32 API server serves without extensions.
var builtinAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1", "apps/v1",
	"authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2", "batch/v1",
	"certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
	"flowcontrol.apiserver.k8s.io/v1", "networking.k8s.io/v1", "node.k8s.io/v1", "policy/v1",
	"rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
}
