package jira_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/connectors/jira/jiratest"
	"github.com/risksync/risksync/internal/registry"
)

// kin-openapi cannot be imported here: go.sum lacks go.yaml.in/yaml/v4,
// which it needs, and go.mod/go.sum are not ours to change. The checks below
// read the OpenAPI JSON directly and validate bodies with a JSON Schema
// subset (type, properties, required, readOnly, additionalProperties, items,
// allOf/oneOf/anyOf, enum, $ref).

const specPath = "../../../../shared/specs/jira-cloud-platform-v3.openapi.json"

type specDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

type specOp struct {
	OperationID string `json:"operationId"`
	Deprecated  bool   `json:"deprecated"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

var (
	specOnce sync.Once
	spec     *specDoc
	specErr  error
)

func loadSpec(t *testing.T) *specDoc {
	t.Helper()
	specOnce.Do(func() {
		path := os.Getenv("JIRA_OPENAPI")
		if path == "" {
			path = specPath
			if _, err := os.Stat(path); err != nil {
				path = "/work/shared/specs/jira-cloud-platform-v3.openapi.json"
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			specErr = err
			return
		}
		spec = &specDoc{}
		specErr = json.Unmarshal(b, spec)
	})
	if specErr != nil {
		if os.Getenv("RISKSYNC_REQUIRE_SPECS") != "" { // CI: the check is not optional
			t.Fatalf("Jira OpenAPI description unavailable: %v", specErr)
		}
		t.Skipf("Jira OpenAPI description unavailable: %v", specErr)
	}
	return spec
}

// agileOps are the Jira Software (agile) operations risksync sends. They
// are not in the platform's OpenAPI description, so each is allowed here
// explicitly, with its body schema written from Atlassian's Jira Software
// REST reference:
//
//   - PUT /rest/agile/1.0/issue/rank, "Rank issues"
//     (https://developer.atlassian.com/cloud/jira/software/rest/api-group-issue/;
//     Data Center: PUT /rest/agile/1.0/issue/rank in the Jira Software
//     reference). Body: issues (keys or ids, at most 50), rankBeforeIssue or
//     rankAfterIssue, optional rankCustomFieldId (integer). Answers 204, or
//     207 with {"entries":[{"issueId","issueKey","status","errors"}]} when
//     some issues failed; needs the Schedule Issues permission.
var agileOps = map[string]map[string]any{
	"PUT " + jiratest.RankRoute: {
		"type": "object", "additionalProperties": false, "required": []any{"issues"},
		"properties": map[string]any{
			"issues":            map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"rankBeforeIssue":   map[string]any{"type": "string"},
			"rankAfterIssue":    map[string]any{"type": "string"},
			"rankCustomFieldId": map[string]any{"type": "integer"},
		},
	},
}

// checkAgile validates a request to an allowed agile operation; false when
// the route is not one.
func checkAgile(t *testing.T, doc *specDoc, r jiratest.Request) bool {
	t.Helper()
	schema, ok := agileOps[r.Method+" "+r.Route]
	if !ok {
		return false
	}
	if len(r.Query) > 0 {
		t.Errorf("%s %s: the operation takes no query parameters: %v", r.Method, r.Route, r.Query)
	}
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Errorf("%s %s: body is not a JSON object: %v", r.Method, r.Route, err)
		return true
	}
	if err := doc.validate(schema, v, "body"); err != nil {
		t.Errorf("%s %s: %v\n%s", r.Method, r.Route, err, r.Body)
	}
	issues, _ := v["issues"].([]any)
	_, before := v["rankBeforeIssue"]
	_, after := v["rankAfterIssue"]
	if len(issues) == 0 || len(issues) > 50 || before == after {
		t.Errorf("%s %s: want 1..50 issues and one of rankBeforeIssue, rankAfterIssue: %s", r.Method, r.Route, r.Body)
	}
	return true
}

var paramRe = regexp.MustCompile(`\{[^}]+\}`)

// find returns the documented operation for a concrete route template,
// ignoring parameter names.
func (d *specDoc) find(method, route string) (*specOp, bool) {
	want := paramRe.ReplaceAllString(route, "{}")
	for p, ops := range d.Paths {
		if paramRe.ReplaceAllString(p, "{}") != want {
			continue
		}
		raw, ok := ops[strings.ToLower(method)]
		if !ok {
			return nil, true
		}
		var op specOp
		if err := json.Unmarshal(raw, &op); err != nil {
			return nil, true
		}
		if params, ok := ops["parameters"]; ok {
			var shared []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			}
			_ = json.Unmarshal(params, &shared)
			op.Parameters = append(op.Parameters, shared...)
		}
		return &op, true
	}
	return nil, false
}

func (d *specDoc) resolve(s map[string]any) map[string]any {
	for i := 0; i < 20; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	}
	return s
}

// validate checks v against schema s as a request body.
func (d *specDoc) validate(s map[string]any, v any, path string) error {
	s = d.resolve(s)
	if s == nil {
		return nil
	}
	for _, key := range []string{"allOf"} {
		if list, ok := s[key].([]any); ok {
			for _, sub := range list {
				if err := d.validate(sub.(map[string]any), v, path); err != nil {
					return err
				}
			}
		}
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if list, ok := s[key].([]any); ok && len(list) > 0 {
			var first error
			for _, sub := range list {
				err := d.validate(sub.(map[string]any), v, path)
				if err == nil {
					first = nil
					break
				}
				if first == nil {
					first = err
				}
			}
			if first != nil {
				return first
			}
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v not in %v", path, v, enum)
		}
	}
	typ, _ := s["type"].(string)
	switch x := v.(type) {
	case map[string]any:
		if typ != "" && typ != "object" {
			return fmt.Errorf("%s: object where %s expected", path, typ)
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: required property %q missing", path, r)
			}
		}
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				if ro, _ := d.resolve(ps)["readOnly"].(bool); ro {
					return fmt.Errorf("%s.%s: read-only property in a request", path, k)
				}
				if ro, _ := ps["readOnly"].(bool); ro {
					return fmt.Errorf("%s.%s: read-only property in a request", path, k)
				}
				if err := d.validate(ps, val, path+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: unknown property %q", path, k)
				}
			case map[string]any:
				if err := d.validate(ap, val, path+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if typ != "" && typ != "array" {
			return fmt.Errorf("%s: array where %s expected", path, typ)
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range x {
				if err := d.validate(items, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case string:
		if typ != "" && typ != "string" {
			return fmt.Errorf("%s: string where %s expected", path, typ)
		}
	case float64:
		if typ != "" && typ != "number" && typ != "integer" {
			return fmt.Errorf("%s: number where %s expected", path, typ)
		}
	case bool:
		if typ != "" && typ != "boolean" {
			return fmt.Errorf("%s: boolean where %s expected", path, typ)
		}
	}
	return nil
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Every request the connector sends on Cloud is a documented, current
// operation, and its body validates against the schema.
func TestRequestsMatchOpenAPI(t *testing.T) {
	doc := loadSpec(t)
	e := newEnv(t)
	e.cfg.Rank = config.JiraRankByScore
	runEverything(t, e)
	rankEverything(t, e)
	e.ensure(newRisk(30, "Adopted", 1, 1, 1))
	bySummary := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "[RISK-31] Lost its labels"})
	e.srv.SetProperty(bySummary, "risksync", map[string]string{"key": "RISK-31"})
	byLabel := e.srv.CreateIssue(jiratest.NewIssue{Project: "PAY", Type: "Epic", Summary: "made by hand", Labels: []string{"risk", "risksync-RISK-32"}})
	e.pass()
	e.ensure(newRisk(31, "Lost its labels", 1, 1, 1))
	e.ensure(newRisk(32, "Labelled by hand", 1, 1, 1))
	if len(e.srv.Issue(byLabel).Properties) != 1 {
		t.Fatal("property not set")
	}

	seen := map[string]bool{}
	bodies := 0
	for _, r := range e.srv.Requests() {
		if checkAgile(t, doc, r) {
			seen[r.Method+" "+r.Route] = true
			continue
		}
		v3 := strings.Replace(r.Route, "/rest/api/2/", "/rest/api/3/", 1)
		op, pathOK := doc.find(r.Method, v3)
		if !pathOK {
			t.Errorf("%s %s: not a documented path", r.Method, r.Route)
			continue
		}
		if op == nil {
			t.Errorf("%s %s: method not documented", r.Method, r.Route)
			continue
		}
		if op.Deprecated {
			t.Errorf("%s %s: deprecated operation %s", r.Method, r.Route, op.OperationID)
		}
		seen[r.Method+" "+r.Route] = true
		for name := range r.Query {
			if !hasQueryParam(op, name) {
				t.Errorf("%s %s: undocumented query parameter %q", r.Method, r.Route, name)
			}
		}
		if len(r.Body) == 0 || op.RequestBody == nil {
			continue
		}
		mt, ok := op.RequestBody.Content["application/json"]
		if !ok || mt.Schema == nil {
			continue
		}
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			t.Errorf("%s %s: body is not JSON: %v", r.Method, r.Route, err)
			continue
		}
		if err := doc.validate(mt.Schema, v, "body"); err != nil {
			t.Errorf("%s %s: body does not match %s: %v\n%s", r.Method, r.Route, op.OperationID, err, r.Body)
		}
		bodies++
	}
	for _, want := range []string{
		"GET /rest/api/2/serverInfo", "GET /rest/api/2/myself", "GET /rest/api/2/search/jql",
		"GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes",
		"GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
		"POST /rest/api/2/issue", "PUT /rest/api/2/issue/{issueIdOrKey}", "GET /rest/api/2/issue/{issueIdOrKey}",
		"GET /rest/api/2/issue/{issueIdOrKey}/transitions", "POST /rest/api/2/issue/{issueIdOrKey}/transitions",
		"POST /rest/api/2/issue/{issueIdOrKey}/comment", "GET /rest/api/2/issue/{issueIdOrKey}/properties/{propertyKey}",
		"PUT /rest/api/2/issue/{issueIdOrKey}/properties/{propertyKey}",
		"GET /rest/api/2/field", "PUT " + jiratest.RankRoute,
	} {
		if !seen[want] {
			t.Errorf("flow never sent %s", want)
		}
	}
	if bodies < 4 {
		t.Errorf("only %d bodies validated", bodies)
	}
	// The validator itself rejects what Jira would.
	for _, bad := range []struct{ schema, body string }{
		{"Comment", `{"body":"x","author":{"accountId":"a"}}`},
		{"IssueUpdateDetails", `{"fields":[]}`},
		{"IssueUpdateDetails", `{"update":{"labels":[{"add":"x","bogus":1}]}}`},
	} {
		var v any
		_ = json.Unmarshal([]byte(bad.body), &v)
		if doc.validate(map[string]any{"$ref": "#/components/schemas/" + bad.schema}, v, "body") == nil {
			t.Errorf("validator accepted %s %s", bad.schema, bad.body)
		}
	}
}

// On Data Center the old /search is the one exception; everything else is
// still a documented, current operation.
func TestDataCenterRequestsMatchOpenAPI(t *testing.T) {
	doc := loadSpec(t)
	e := newEnv(t, withServer(jiratest.WithDeployment(jiratest.DataCenter)), withOptions(func(o *jira.Options) {
		o.Email, o.APIToken = config.Secret{}, config.Secret{}
		o.PAT = config.NewSecret(jiratest.PAT)
	}))
	e.cfg.Rank = config.JiraRankByScore
	runEverything(t, e)
	rankEverything(t, e)
	if e.srv.Count(http.MethodGet, "/rest/api/2/field") != 1 {
		t.Errorf("/field read %d times: Epic Link and Rank share one listing", e.srv.Count(http.MethodGet, "/rest/api/2/field"))
	}
	for _, r := range e.srv.Requests() {
		if checkAgile(t, doc, r) {
			continue
		}
		if r.Route == routeSearchOld && r.Method == http.MethodGet {
			continue
		}
		op, ok := doc.find(r.Method, strings.Replace(r.Route, "/rest/api/2/", "/rest/api/3/", 1))
		if !ok || op == nil || op.Deprecated {
			t.Errorf("%s %s: undocumented or deprecated", r.Method, r.Route)
		}
	}
}

func hasQueryParam(op *specOp, name string) bool {
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == name {
			return true
		}
	}
	return false
}

// rankEverything puts the epics of runEverything out of score order, then
// ranks them: top and after anchors, a 207 and a 403.
func rankEverything(t *testing.T, e *env) {
	t.Helper()
	e.srv.Advance(time.Minute)
	e.pass()
	var items []registry.BacklogItem
	for i := 1; i <= 4; i++ {
		r := newRisk(int64(10+i), fmt.Sprintf("Rank %d", i), i, i, i)
		items = append([]registry.BacklogItem{{Risk: r, Epic: e.ensure(r).Link}}, items...) // highest score first
	}
	e.srv.FailRank(items[1].Epic.Key)
	if _, err := e.c.OrderBacklog(e.ctx, items, false); err == nil {
		t.Fatal("a 207 with a failed issue passed")
	}
	e.srv.Advance(time.Minute)
	e.pass()
	if _, err := e.c.OrderBacklog(e.ctx, items, false); err != nil {
		t.Fatal(err)
	}
	e.srv.RankAfter(items[0].Epic.Key, items[3].Epic.Key)
	e.srv.DenySchedule("PAY")
	e.srv.Advance(time.Minute)
	e.pass()
	if _, err := e.c.OrderBacklog(e.ctx, items, false); err == nil {
		t.Fatal("a 403 passed")
	}
}
