package jira

import (
	"sort"
	"strings"
)

// Route turns a request path into its documented template, for metrics and
// for checking requests against the OpenAPI description, e.g.
// /rest/api/2/issue/PAY-7/transitions → /rest/api/2/issue/{issueIdOrKey}/transitions.
func Route(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 4 || segs[0] != "rest" || segs[1] != "api" {
		return path
	}
	rest := segs[3:]
	switch {
	case len(rest) >= 3 && rest[0] == "issue" && rest[1] == "createmeta":
		rest[2] = "{projectIdOrKey}"
		if len(rest) >= 5 && rest[3] == "issuetypes" {
			rest[4] = "{issueTypeId}"
		}
	case len(rest) >= 2 && rest[0] == "issue":
		rest[1] = "{issueIdOrKey}"
		if len(rest) >= 4 && rest[2] == "properties" {
			rest[3] = "{propertyKey}"
		}
		if len(rest) >= 4 && rest[2] == "comment" {
			rest[3] = "{id}"
		}
	case len(rest) >= 2 && rest[0] == "project":
		rest[1] = "{projectIdOrKey}"
	}
	return "/" + strings.Join(append(segs[:3:3], rest...), "/")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
