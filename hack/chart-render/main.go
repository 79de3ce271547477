// Command chart-render renders a Helm chart the way `helm template` does, without helm: Helm's template
// functions (sprig plus include, tpl, required, toYaml, ...), values from values.yaml, -f files and --set,
// values.schema.json enforced, templates sorted by kind as Helm installs them, NOTES.txt kept separate.
//
//	chart-render [flags] RELEASE CHART_DIR
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"strings"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	release, chartDir, namespace, kubeVersion, output string
	valueFiles, sets, setStrings, apiVersions         listFlag
	isUpgrade                                         bool
	revision                                          int
}

func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("chart-render", flag.ContinueOnError)
	fs.StringVar(&o.namespace, "namespace", "default", "release namespace")
	fs.StringVar(&o.kubeVersion, "kube-version", "v1.32.0", "Kubernetes version for .Capabilities")
	fs.StringVar(&o.output, "output", "yaml", "yaml (like helm template) or json ({manifests, notes, values})")
	fs.Var(&o.valueFiles, "f", "values file (repeatable; later files win)")
	fs.Var(&o.valueFiles, "values", "same as -f")
	fs.Var(&o.sets, "set", "a.b=c[,d=e] (repeatable)")
	fs.Var(&o.setStrings, "set-string", "like --set, values kept as strings")
	fs.Var(&o.apiVersions, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	fs.BoolVar(&o.isUpgrade, "is-upgrade", false, "render as an upgrade (.Release.IsUpgrade)")
	fs.IntVar(&o.revision, "revision", 1, ".Release.Revision")
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 2 {
		return o, fmt.Errorf("usage: chart-render [flags] RELEASE CHART_DIR")
	}
	if o.output != "yaml" && o.output != "json" {
		return o, fmt.Errorf("--output must be yaml or json")
	}
	o.release, o.chartDir = positional[0], positional[1]
	return o, nil
}

// userValues merges -f files in order, then applies --set and --set-string, as `helm template` does.
func userValues(o options) (map[string]interface{}, error) {
	vals := map[string]interface{}{}
	for _, f := range o.valueFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m, err := parseValues(data)
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", f, err)
		}
		vals = mergeMaps(vals, m)
	}
	for _, s := range o.sets {
		if err := parseSet(s, vals, false); err != nil {
			return nil, err
		}
	}
	for _, s := range o.setStrings {
		if err := parseSet(s, vals, true); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

type result struct {
	Manifests []Manifest             `json:"manifests"`
	Notes     string                 `json:"notes"`
	Values    map[string]interface{} `json:"values"`
}

func run(o options) (*result, error) {
	chart, err := loadChart(o.chartDir)
	if err != nil {
		return nil, err
	}
	user, err := userValues(o)
	if err != nil {
		return nil, err
	}
	values := coalesce(user, chart.Values)
	if err := validateValues(chart.Metadata.Name, chart.Schema, values); err != nil {
		return nil, err
	}
	kube, err := parseKubeVersion(o.kubeVersion)
	if err != nil {
		return nil, err
	}
	if err := checkKubeVersion(chart.Metadata, kube); err != nil {
		return nil, err
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart.Metadata.asMap(),
		"Files":  chart.Files,
		"Release": map[string]interface{}{
			"Name": o.release, "Namespace": o.namespace, "Service": "Helm",
			"IsInstall": !o.isUpgrade, "IsUpgrade": o.isUpgrade, "Revision": o.revision,
		},
		"Capabilities": &Capabilities{
			KubeVersion: kube,
			APIVersions: append(append(VersionSet{}, builtinAPIVersions...), o.apiVersions...),
			HelmVersion: map[string]string{"Version": "v3-compatible (hack/chart-render)"},
		},
		"Subcharts": map[string]interface{}{},
	}
	rendered, err := renderTemplates(chart.Metadata.Name, chart.Templates, top)
	if err != nil {
		return nil, err
	}
	res := &result{Values: values}
	notesName := path.Join(chart.Metadata.Name, "templates", "NOTES.txt")
	for name, text := range rendered {
		if strings.HasSuffix(name, "NOTES.txt") {
			if name == notesName {
				res.Notes = text
			}
			delete(rendered, name)
		}
	}
	if res.Manifests, err = sortManifests(rendered); err != nil {
		return nil, err
	}
	return res, nil
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(2)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	if o.output == "json" {
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	for _, m := range res.Manifests {
		fmt.Printf("---\n# Source: %s\n%s\n", m.Source, m.Content)
	}
}
