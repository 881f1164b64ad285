package api

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/riskfile"
	"github.com/risksync/risksync/internal/service"
)

// DefaultPage is the page size when a listing names no limit.
const DefaultPage = 100

// RiskList is a page of the ranked listing.
type RiskList struct {
	Risks      []service.RiskView `json:"risks" nullable:"false" doc:"Ranked by score, highest first; unscored last"`
	NextCursor *string            `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// Team is a configured team and where its epics go.
type Team struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases" nullable:"false"`
	Tracker string   `json:"tracker" enum:"github,jira"`
	Target  string   `json:"target" doc:"owner/repo on GitHub, the project key on Jira"`
}

type listInput struct {
	Owner     string `query:"owner" doc:"A team name or alias, or unowned"`
	Status    string `query:"status" doc:"Statuses, comma-separated: active, mitigating, mitigated, accepted, retired"`
	Band      string `query:"band" doc:"A configured band, or unscored"`
	Stagnant  bool   `query:"stagnant" doc:"Only active or mitigating risks whose work stopped moving"`
	ReviewDue bool   `query:"review_due" doc:"Only risks whose review is due"`
	Q         string `query:"q" doc:"Text in the key, title or description, ignoring case"`
	Limit     int    `query:"limit" default:"100" doc:"Page size, 1 to 500; 0 for every risk"`
	Cursor    string `query:"cursor" doc:"next_cursor of the previous page"`
}

type keyInput struct {
	Key string `path:"key" doc:"The risk's key, e.g. RISK-12"`
}

type riskOutput struct {
	ETag string `header:"ETag" doc:"The risk's version, quoted: send it as If-Match"`
	Body service.RiskView
}

type createdOutput struct {
	Location string `header:"Location" doc:"The new risk's URL"`
	ETag     string `header:"ETag" doc:"The risk's version, quoted"`
	Body     service.RiskView
}

type patchInput struct {
	Key     string `path:"key" doc:"The risk's key, e.g. RISK-12"`
	IfMatch string `header:"If-Match" doc:"The ETag of the version the change is based on; a stale one gets 412 and writes nothing"`
	Body    PatchRisk
}

type reviewInput struct {
	Key  string      `path:"key" doc:"The risk's key, e.g. RISK-12"`
	Body *ReviewBody `required:"false"`
}

type reportInput struct {
	Owner string `query:"owner" doc:"Only this team's risks (a name or alias), or unowned"`
}

type importInput struct {
	DryRun      bool   `query:"dry_run" doc:"Check and report what would change; write nothing"`
	ContentType string `header:"Content-Type" doc:"text/csv, or application/json for an array of row objects"`
	RawBody     []byte `contentType:"text/csv"`
}

// ImportResult is what an import did (or, with dry_run, would do).
type ImportResult struct {
	Created   []string      `json:"created" nullable:"false" doc:"Keys of the risks created"`
	Updated   []string      `json:"updated" nullable:"false" doc:"Keys of the risks updated"`
	Unchanged int           `json:"unchanged" doc:"Rows that changed nothing"`
	Errors    []ImportError `json:"errors" nullable:"false" doc:"Every bad row; when there is one, nothing is written"`
}

// ImportError is one bad cell of an import.
type ImportError struct {
	Line    int    `json:"line"`
	Column  string `json:"column"`
	Message string `json:"message"`
}

func (a *API) register() {
	errSchema := a.huma.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	op := func(id, method, path, summary string, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: Prefix + path, Summary: summary, Tags: []string{"registry"},
			MaxBodyBytes: MaxBody + 1, // huma refuses a body of exactly MaxBodyBytes
			Errors:       append([]int{http.StatusUnauthorized}, errs...),
			Responses: map[string]*huma.Response{"default": {Description: "Any other error",
				Content: map[string]*huma.MediaType{ProblemContentType: {Schema: errSchema}}}}}
	}
	read, write := []int{422}, []int{400, 403, 404, 413, 415, 422}

	huma.Register(a.huma, op("listRisks", http.MethodGet, "/risks", "List risks ranked by score", read...), a.list)
	huma.Register(a.huma, op("getRisk", http.MethodGet, "/risks/{key}", "A risk with its history", 404, 422), a.get)
	create := op("createRisk", http.MethodPost, "/risks", "Create a risk", write...)
	create.DefaultStatus = http.StatusCreated
	huma.Register(a.huma, create, a.create)
	patch := op("patchRisk", http.MethodPatch, "/risks/{key}", "Change a risk (JSON merge patch)", append(write, 412)...)
	huma.Register(a.huma, patch, a.patch)
	huma.Register(a.huma, op("reviewRisk", http.MethodPost, "/risks/{key}/review", "Record a review", write...), a.review)
	huma.Register(a.huma, op("getReport", http.MethodGet, "/report", "The weekly report, as JSON", read...), a.report)
	huma.Register(a.huma, op("listTeams", http.MethodGet, "/teams", "The configured teams"), a.teams)
	huma.Register(a.huma, op("importRisks", http.MethodPost, "/import", "Import risks from CSV or a JSON array", write...), a.importRisks)

	oapi := a.huma.OpenAPI()
	// A merge patch is also accepted as plain JSON.
	p := oapi.Paths[Prefix+"/risks/{key}"].Patch.RequestBody
	p.Content["application/merge-patch+json"] = p.Content["application/json"]
	// Import takes CSV text or a JSON array of row objects.
	ib := oapi.Paths[Prefix+"/import"].Post.RequestBody
	ib.Required = true
	ib.Content = map[string]*huma.MediaType{
		"text/csv":         {Schema: &huma.Schema{Type: huma.TypeString, Description: "A header row, then one risk per row"}},
		"application/json": {Schema: &huma.Schema{Type: huma.TypeArray, Items: &huma.Schema{Type: huma.TypeObject}}},
	}
	fixSchemas(oapi.Components.Schemas)
}

// fixSchemas states what reflection cannot see: the priority map is null
// for an unscored risk, the report's epic is null when not mirrored, and
// statuses and link states are enumerations.
func fixSchemas(r huma.Registry) {
	m := r.Map()
	m["Risk"].Properties["priority"].Nullable = true
	m["Risk"].Properties["accepted_until"].Format = "date"
	statuses := make([]any, len(registry.Statuses))
	for i, s := range registry.Statuses {
		statuses[i] = string(s)
	}
	states := []any{string(registry.LinkOpen), string(registry.LinkInProgress), string(registry.LinkDone), string(registry.LinkNotPlanned)}
	for name, s := range m {
		if p := s.Properties["status"]; p != nil && p.Type == huma.TypeString && name != "PatchRisk" && name != "CreateRisk" {
			p.Enum = statuses
		}
		if p := s.Properties["state"]; p != nil {
			p.Enum = states
		}
		if p := s.Properties["epic"]; p != nil && p.Ref != "" {
			s.Properties["epic"] = &huma.Schema{AnyOf: []*huma.Schema{{Ref: p.Ref}, {Type: "null"}}, Description: "The current epic; null when not mirrored"}
		}
	}
}

func (a *API) list(ctx context.Context, in *listInput) (*struct{ Body RiskList }, error) {
	q := service.Query{Owner: in.Owner, Band: in.Band, Stagnant: in.Stagnant, ReviewDue: in.ReviewDue, Text: in.Q,
		Limit: in.Limit, Cursor: in.Cursor}
	for _, s := range strings.Split(in.Status, ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			q.Status = append(q.Status, registry.Status(s))
		}
	}
	risks, next, err := a.svc.List(ctx, principal(ctx), q)
	if err != nil {
		return nil, a.problem(ctx, err, "query", "query.")
	}
	out := &struct{ Body RiskList }{Body: RiskList{Risks: make([]service.RiskView, len(risks))}}
	for i, r := range risks {
		out.Body.Risks[i] = a.svc.View(r, nil)
	}
	if next != "" {
		out.Body.NextCursor = &next
	}
	return out, nil
}

func (a *API) get(ctx context.Context, in *keyInput) (*riskOutput, error) {
	r, history, err := a.svc.Get(ctx, principal(ctx), in.Key, 0)
	if err != nil {
		return nil, a.problem(ctx, err, "path.key", "")
	}
	return &riskOutput{ETag: etag(r), Body: a.svc.View(r, history)}, nil
}

func (a *API) create(ctx context.Context, in *struct{ Body CreateRisk }) (*createdOutput, error) {
	c, err := in.Body.change(Opt[string]{Set: true, Value: &in.Body.Title})
	if err != nil {
		return nil, err
	}
	r, err := a.svc.Create(ctx, principal(ctx), c)
	if err != nil {
		return nil, a.problem(ctx, err, "body", "body.")
	}
	return &createdOutput{Location: Prefix + "/risks/" + r.Key, ETag: etag(r), Body: a.svc.View(r, nil)}, nil
}

func (a *API) patch(ctx context.Context, in *patchInput) (*riskOutput, error) {
	version, err := parseIfMatch(in.IfMatch)
	if err != nil {
		return nil, err
	}
	c, err := in.Body.change(in.Body.Title)
	if err != nil {
		return nil, err
	}
	r, err := a.svc.Update(ctx, principal(ctx), in.Key, c, version)
	if err != nil {
		return nil, a.problem(ctx, err, "path.key", "body.")
	}
	return &riskOutput{ETag: etag(r), Body: a.svc.View(r, nil)}, nil
}

func (a *API) review(ctx context.Context, in *reviewInput) (*riskOutput, error) {
	note := ""
	if in.Body != nil {
		note = in.Body.Note
	}
	r, err := a.svc.Review(ctx, principal(ctx), in.Key, note)
	if err != nil {
		return nil, a.problem(ctx, err, "path.key", "body.")
	}
	return &riskOutput{ETag: etag(r), Body: a.svc.View(r, nil)}, nil
}

func (a *API) report(ctx context.Context, in *reportInput) (*struct{ Body *report.Report }, error) {
	rep, err := a.svc.Report(ctx, principal(ctx), in.Owner)
	if err != nil {
		return nil, a.problem(ctx, err, "query.owner", "query.")
	}
	return &struct{ Body *report.Report }{Body: rep}, nil
}

func (a *API) teams(ctx context.Context, _ *struct{}) (*struct{ Body []Team }, error) {
	teams, err := a.svc.Teams(principal(ctx))
	if err != nil {
		return nil, a.problem(ctx, err, "", "")
	}
	out := make([]Team, len(teams))
	for i, t := range teams {
		out[i] = Team{Name: t.Name, Aliases: append([]string{}, t.Aliases...), Tracker: t.Target.Tracker, Target: t.Target.Name}
	}
	return &struct{ Body []Team }{Body: out}, nil
}

// importRisks parses the body (CSV or a JSON array) and hands the rows to
// the service, which applies them all or not at all. Bad rows are a 422
// whose errors name each "line N: column".
func (a *API) importRisks(ctx context.Context, in *importInput) (*struct{ Body ImportResult }, error) {
	who := principal(ctx)
	format := riskfile.CSV
	switch mt, _, _ := mime.ParseMediaType(in.ContentType); mt {
	case "text/csv", "":
	case "application/json":
		format = riskfile.JSON
	default:
		return nil, newProblem(http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: send text/csv or a JSON array (application/json)", in.ContentType))
	}
	rows, err := riskfile.Parse(bytes.NewReader(in.RawBody), format)
	if err != nil {
		return nil, a.problem(ctx, err, "body", "")
	}
	res, err := a.svc.Import(ctx, who, rows, in.DryRun)
	if err != nil {
		return nil, a.problem(ctx, err, "body", "")
	}
	out := ImportResult{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, Errors: []ImportError{}}
	return &struct{ Body ImportResult }{Body: out}, nil
}

func etag(r *registry.Risk) string { return `"` + strconv.FormatInt(r.Version, 10) + `"` }

// parseIfMatch reads the version an If-Match names (0 for none or "*").
// A tag this server never gave out cannot match: 412, as for a stale one.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 1 || strings.HasPrefix(h, "W/") {
		msg := "If-Match " + h + ` is not a version of this risk: send the ETag of its last GET, e.g. "3"`
		return 0, newProblem(http.StatusPreconditionFailed, msg, ProblemField{Location: "header.If-Match", Message: msg})
	}
	return v, nil
}
