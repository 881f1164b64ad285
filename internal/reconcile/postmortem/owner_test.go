package postmortem

import (
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/registry"
)

type team struct{ name string }

// matchTeam mimics config.Config.MatchTeam: name or alias, ignoring case.
func matchTeam(s string) *team {
	for _, t := range []struct {
		name    string
		aliases []string
	}{{"storage-sre", []string{"Storage SRE", "Service Lifecycle SRE"}}, {"payments", nil}} {
		if strings.EqualFold(s, t.name) {
			return &team{t.name}
		}
		for _, a := range t.aliases {
			if strings.EqualFold(s, a) {
				return &team{t.name}
			}
		}
	}
	return nil
}

func TestMatchOwner(t *testing.T) {
	tests := []struct {
		cell, want string
	}{
		{"storage-sre", "storage-sre"},
		{"Service Lifecycle SRE", "storage-sre"},
		{" PAYMENTS ", "payments"},
		{"**Payments**", "payments"},
		{"`storage-sre`", "storage-sre"},
		{"Storage SRE (Alice on call)", "storage-sre"},
		{"Storage SRE - Alice", "storage-sre"},
		{"Storage SRE — Alice", "storage-sre"},
		{"payments, with storage", "payments"},
		{"@acme/storage-sre", "storage-sre"},
		{"@payments", "payments"},
		{"@acme/payments (Bob)", "payments"},
		{"Storage", ""},
		{"", ""},
		{"storage-sre and payments", ""},
	}
	for _, tc := range tests {
		got := MatchOwner(tc.cell, matchTeam)
		name := ""
		if got != nil {
			name = got.name
		}
		if name != tc.want {
			t.Errorf("MatchOwner(%q) = %q, want %q", tc.cell, name, tc.want)
		}
	}
}

// The engine's matcher: the result is a *registry.Team, no adapter needed.
func TestMatchOwnerWithRouting(t *testing.T) {
	r := registry.Routing{Teams: []registry.Team{{Name: "storage-sre", Aliases: []string{"Storage SRE"}}, {Name: "payments"}}}
	for cell, want := range map[string]string{"**Storage SRE** (Alice)": "storage-sre", "@acme/payments": "payments", "Storage": ""} {
		name := ""
		if tm := MatchOwner(cell, r.MatchTeam); tm != nil {
			name = tm.Name
		}
		if name != want {
			t.Errorf("MatchOwner(%q) = %q, want %q", cell, name, want)
		}
	}
}
