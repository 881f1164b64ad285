package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes, defaults and validates one YAML document. Empty input
// yields the defaults.
func Parse(data []byte) (*Config, error) {
	cfg := &Config{}
	var root yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &root); err != nil {
			return nil, yamlError(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(err)
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			return nil, fmt.Errorf("line %d: only one YAML document is allowed", extra.Line)
		}
	}
	cfg.applyDefaults()
	if err := cfg.validate(locator{&root}); err != nil {
		return nil, err
	}
	return cfg, nil
}

var (
	unknownFieldRe = regexp.MustCompile(`^line (\d+): field (\S+) not found in type config\.(\w+)$`)
	cannotRe       = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
)

// yamlError turns the YAML library's messages into ones that name the key
// as written in the file.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msg := te.Errors[0]
	if m := unknownFieldRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
	} else if m := cannotRe.FindStringSubmatch(msg); m != nil {
		want := m[4]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "config."), strings.HasPrefix(want, "*config."):
			want = "a mapping of keys"
		case strings.Contains(want, "int"), strings.Contains(want, "float"):
			want = "a number"
		case want == "bool":
			want = "true or false"
		case want == "string":
			want = "a text value"
		}
		msg = fmt.Sprintf("line %s: %q is not valid here: want %s", m[1], m[3], want)
	}
	if n := len(te.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return errors.New(msg)
}
