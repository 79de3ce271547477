package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver"
	"github.com/ghodss/yaml"
)

// Maintainer and Metadata mirror Helm's chart.Metadata so that .Chart exposes the same capitalised keys.
type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

type Metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []Maintainer      `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// Chart is a chart directory loaded the way Helm's loader splits it: metadata, default values, schema,
// templates (keyed by "<chart>/templates/..."), and every other file for .Files.
type Chart struct {
	Metadata  Metadata
	Values    map[string]interface{}
	Schema    []byte
	Templates map[string]string
	Files     Files
}

func loadChart(dir string) (*Chart, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	c := &Chart{Values: map[string]interface{}{}, Templates: map[string]string{}, Files: Files{}}
	if err := yaml.Unmarshal(raw, &c.Metadata); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	m := c.Metadata
	if m.APIVersion != "v2" || m.Name == "" || m.Version == "" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion must be v2 and name and version are required")
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case rel == "Chart.yaml" || rel == "Chart.lock":
		case rel == "values.yaml":
			if c.Values, err = parseValues(data); err != nil {
				return fmt.Errorf("values.yaml: %w", err)
			}
		case rel == "values.schema.json":
			c.Schema = data
		case strings.HasPrefix(rel, "templates/"):
			// Helm's loader ignores hidden files under templates/.
			if !strings.HasPrefix(path.Base(rel), ".") {
				c.Templates[path.Join(m.Name, rel)] = string(data)
			}
		case strings.HasPrefix(rel, "charts/"):
			return fmt.Errorf("%s: subcharts are not supported by this renderer", rel)
		default:
			c.Files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// metadataAsMap is Helm's structToMap: the .Chart object is keyed by Go field names (Name, AppVersion, ...).
func (m Metadata) asMap() map[string]interface{} {
	maintainers := make([]interface{}, len(m.Maintainers))
	for i, x := range m.Maintainers {
		maintainers[i] = map[string]interface{}{"Name": x.Name, "Email": x.Email, "URL": x.URL}
	}
	return map[string]interface{}{
		"Name": m.Name, "Home": m.Home, "Sources": toAnySlice(m.Sources), "Version": m.Version,
		"Description": m.Description, "Keywords": toAnySlice(m.Keywords), "Maintainers": maintainers,
		"Icon": m.Icon, "APIVersion": m.APIVersion, "Condition": m.Condition, "Tags": m.Tags,
		"AppVersion": m.AppVersion, "Deprecated": m.Deprecated, "Annotations": m.Annotations,
		"KubeVersion": m.KubeVersion, "Dependencies": m.Dependencies, "Type": m.Type, "IsRoot": true,
	}
}

func toAnySlice(s []string) []interface{} {
	out := make([]interface{}, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// checkKubeVersion refuses a Kubernetes version outside Chart.yaml's kubeVersion range, as helm install does.
func checkKubeVersion(m Metadata, kube KubeVersion) error {
	if m.KubeVersion == "" {
		return nil
	}
	c, err := semver.NewConstraint(m.KubeVersion)
	if err != nil {
		return fmt.Errorf("Chart.yaml: invalid kubeVersion %q: %w", m.KubeVersion, err)
	}
	v, err := semver.NewVersion(kube.String())
	if err != nil {
		return err
	}
	if !c.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", m.KubeVersion, kube.String())
	}
	return nil
}
