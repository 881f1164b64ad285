package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secret is a credential read from the environment or a file. It prints,
// logs and marshals as "<redacted>" so it cannot leak by accident; Reveal is
// the one way to get the value, used where it goes on the wire.
type Secret struct{ value string }

const redacted = "<redacted>"

func (s Secret) Reveal() string                { return s.value }
func (s Secret) IsZero() bool                  { return s.value == "" }
func (s Secret) String() string                { return redacted }
func (s Secret) GoString() string              { return redacted }
func (s Secret) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (s Secret) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }

// NewSecret wraps a value (tests and callers that already hold one).
func NewSecret(v string) Secret { return Secret{value: v} }

// SecretRef names where a secret comes from: an environment variable or a
// file, never both (validated), never inline.
type SecretRef struct {
	Name string // config path of the pair without the suffix, e.g. "github.token"
	Env  string
	File string
}

// Set reports whether either source is configured.
func (r SecretRef) Set() bool { return r.Env != "" || r.File != "" }

// Resolve reads the secret. Errors name the config key and the variable or
// file, never the value. Lookup is os.LookupEnv in production.
func (r SecretRef) Resolve(lookup func(string) (string, bool)) (Secret, error) {
	switch {
	case r.Env != "":
		v, ok := lookup(r.Env)
		if !ok || strings.TrimSpace(v) == "" {
			return Secret{}, fmt.Errorf("%s_env: environment variable %s is not set", r.Name, r.Env)
		}
		return Secret{value: strings.TrimSpace(v)}, nil
	case r.File != "":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return Secret{}, fmt.Errorf("%s_file: cannot read %s: %w", r.Name, r.File, unwrapPathError(err))
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return Secret{}, fmt.Errorf("%s_file: %s is empty", r.Name, r.File)
		}
		return Secret{value: v}, nil
	}
	return Secret{}, fmt.Errorf("%s: set %s_env or %s_file", r.Name, r.Name, r.Name)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// SecretRefs lists every secret the configured trackers and report need.
func (c *Config) SecretRefs() []SecretRef {
	var refs []SecretRef
	if g := c.GitHub; g != nil {
		refs = append(refs, g.Token())
		if g.WebhookSecret().Set() {
			refs = append(refs, g.WebhookSecret())
		}
	}
	if j := c.Jira; j != nil {
		if j.UsesPAT() {
			refs = append(refs, j.PAT())
		} else {
			refs = append(refs, j.Email(), j.APIToken())
		}
		if j.WebhookSecret().Set() {
			refs = append(refs, j.WebhookSecret())
		}
	}
	if c.Report.WebhookURL().Set() {
		refs = append(refs, c.Report.WebhookURL())
	}
	return refs
}

// CheckSecrets resolves every secret and returns one error per missing one.
func (c *Config) CheckSecrets(lookup func(string) (string, bool)) []error {
	var errs []error
	for _, ref := range c.SecretRefs() {
		if _, err := ref.Resolve(lookup); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
