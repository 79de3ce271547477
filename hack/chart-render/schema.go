package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/xeipuuv/gojsonschema"
)

// validateValues enforces values.schema.json like Helm 3 (which used gojsonschema) with Helm's message.
func validateValues(chartName string, schema []byte, values map[string]interface{}) error {
	if len(schema) == 0 {
		return nil
	}
	doc, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("values cannot be encoded as JSON: %w", err)
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("%s: values.schema.json: %w", chartName, err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s",
		chartName, b.String())
}
