package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/riskfile"
	"github.com/risksync/risksync/internal/service"
)

// remoteBackend sends the risk commands through the HTTP API (--server):
// people without database credentials use the CLI exactly as in direct mode.
type remoteBackend struct {
	base  *url.URL
	token string
	http  *http.Client
}

// remote returns the API client when --server or RISKSYNC_SERVER is set.
func (m *Main) remote() (*remoteBackend, error) {
	server := m.serverFlag
	if server == "" {
		server = m.getenv("RISKSYNC_SERVER")
	}
	if server == "" {
		return nil, nil
	}
	u, err := url.Parse(strings.TrimSuffix(server, "/") + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--server: %q is not an http(s) URL such as https://risksync.example.com", server)}
	}
	token := m.getenv("RISKSYNC_TOKEN")
	if m.tokenFile != "" {
		b, err := os.ReadFile(m.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, usageError{errors.New("--server needs a token: set RISKSYNC_TOKEN or give --token-file (create one with risksync token create on the server)")}
	}
	hc := m.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &remoteBackend{base: u, token: token, http: hc}, nil
}

// do sends one API request with a JSON body (or none) and decodes a 2xx
// answer into out.
func (b *remoteBackend) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if body == nil {
		return b.send(ctx, method, path, query, nil, "", out)
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctype := "application/json"
	if method == http.MethodPatch {
		ctype = "application/merge-patch+json"
	}
	return b.send(ctx, method, path, query, bytes.NewReader(buf), ctype, out)
}

// send is one API exchange. Failures become the registry errors the direct
// mode returns, so output and exit codes match.
func (b *remoteBackend) send(ctx context.Context, method, path string, query url.Values, body io.Reader, ctype string, out any) error {
	u := b.base.JoinPath(strings.Split(path, "/")...)
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return registry.Errorf(registry.EUNAVAILABLE, "server %s: %v", b.base.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return registry.Errorf(registry.EUNAVAILABLE, "server %s: reading the answer: %v", b.base.Host, err)
	}
	if resp.StatusCode >= 300 {
		return problemError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("server %s: unexpected answer to %s %s: %w", b.base.Host, method, path, err)
	}
	return nil
}

// problemError reads an RFC 9457 problem into the error direct mode returns.
func problemError(status int, data []byte) error {
	var p struct {
		Title  string                `json:"title"`
		Detail string                `json:"detail"`
		Errors []registry.FieldError `json:"errors"`
	}
	_ = json.Unmarshal(data, &p)
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	code := map[int]string{http.StatusBadRequest: registry.EINVALID, http.StatusUnprocessableEntity: registry.EINVALID,
		http.StatusNotFound: registry.ENOTFOUND, http.StatusConflict: registry.ECONFLICT, http.StatusPreconditionFailed: registry.EPRECONDITION,
		http.StatusUnauthorized: registry.EUNAUTHORIZED, http.StatusForbidden: registry.EFORBIDDEN,
		http.StatusServiceUnavailable: registry.EUNAVAILABLE, http.StatusRequestEntityTooLarge: registry.EINVALID}[status]
	switch status {
	case http.StatusUnauthorized:
		msg = "server refused the token (401): " + msg + "; check RISKSYNC_TOKEN or --token-file"
	case http.StatusForbidden:
		msg = "server refused (403): " + msg
	}
	if code == "" {
		code = registry.EINTERNAL
		msg = fmt.Sprintf("server error %d: %s", status, msg)
	}
	return &registry.Error{Code: code, Message: msg, Fields: p.Errors}
}

// patchOf renders a Change as a JSON merge patch: only what was given,
// null to clear.
func patchOf(c service.Change) map[string]any {
	p := map[string]any{}
	put := func(name string, set bool, v any) {
		if set {
			p[name] = v
		}
	}
	put("title", c.Title.Set, c.Title.Value)
	put("description", c.Description.Set, c.Description.Value)
	put("impact", c.Impact.Set, c.Impact.Value)
	put("scope", c.Scope.Set, c.Scope.Value)
	put("likelihood", c.Likelihood.Set, c.Likelihood.Value)
	put("ettd_minutes", c.ETTDMinutes.Set, c.ETTDMinutes.Value)
	put("ettr_minutes", c.ETTRMinutes.Set, c.ETTRMinutes.Value)
	put("impact_percent", c.ImpactPercent.Set, c.ImpactPercent.Value)
	put("ettf_days", c.ETTFDays.Set, c.ETTFDays.Value)
	put("owner", c.Owner.Set, c.Owner.Value)
	put("status", c.Status.Set, c.Status.Value)
	put("status_reason", c.StatusReason.Set, c.StatusReason.Value)
	if c.AcceptedUntil.Set {
		var d *string
		if v := c.AcceptedUntil.Value; v != nil {
			s := v.Format(time.DateOnly)
			d = &s
		}
		p["accepted_until"] = d
	}
	return p
}

func (b *remoteBackend) list(ctx context.Context, q service.Query) ([]service.RiskView, error) {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("owner", q.Owner)
	var st []string
	for _, s := range q.Status {
		st = append(st, string(s))
	}
	set("status", strings.Join(st, ","))
	set("band", q.Band)
	set("q", q.Text)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	out := []service.RiskView{}
	for {
		var page struct {
			Risks      []service.RiskView `json:"risks"`
			NextCursor *string            `json:"next_cursor"`
		}
		if err := b.do(ctx, http.MethodGet, "api/v1/risks", v, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Risks...)
		if page.NextCursor == nil || *page.NextCursor == "" || q.Limit > 0 {
			return out, nil
		}
		v.Set("cursor", *page.NextCursor)
	}
}

func (b *remoteBackend) get(ctx context.Context, key string, historyLimit int) (service.RiskView, error) {
	var r service.RiskView
	if err := b.do(ctx, http.MethodGet, "api/v1/risks/"+url.PathEscape(key), nil, nil, &r); err != nil {
		return r, err
	}
	if historyLimit > 0 && len(r.History) > historyLimit {
		r.History = r.History[len(r.History)-historyLimit:]
	}
	return r, nil
}

func (b *remoteBackend) create(ctx context.Context, c service.Change) (service.RiskView, error) {
	var r service.RiskView
	err := b.do(ctx, http.MethodPost, "api/v1/risks", nil, patchOf(c), &r)
	return r, err
}

func (b *remoteBackend) update(ctx context.Context, key string, c service.Change) (service.RiskView, error) {
	var r service.RiskView
	err := b.do(ctx, http.MethodPatch, "api/v1/risks/"+url.PathEscape(key), nil, patchOf(c), &r)
	return r, err
}

func (b *remoteBackend) review(ctx context.Context, key, note string) (service.RiskView, error) {
	var r service.RiskView
	err := b.do(ctx, http.MethodPost, "api/v1/risks/"+url.PathEscape(key)+"/review", nil, map[string]string{"note": note}, &r)
	return r, err
}

// needsDatabase are the commands that work on the database itself and so
// cannot go through the API.
var needsDatabase = map[string]bool{"serve": true, "sync": true, "migrate": true, "token": true}

func (m *Main) refuseRemote(cmd *cobra.Command) error {
	if m.serverFlag == "" && m.getenv("RISKSYNC_SERVER") == "" {
		return nil
	}
	top := cmd
	for top.HasParent() && top.Parent().HasParent() {
		top = top.Parent()
	}
	if needsDatabase[top.Name()] {
		return usageError{fmt.Errorf("%s needs the database and cannot go through --server (or RISKSYNC_SERVER): run it where the database is reachable", top.CommandPath())}
	}
	return nil
}

// importFile posts the file to the API: CSV as it is, JSON as it is, YAML
// converted to the equivalent JSON array (the API takes CSV or JSON).
func (b *remoteBackend) importFile(ctx context.Context, data []byte, format string, dryRun bool) (service.ImportResult, error) {
	ctype := "text/csv"
	switch format {
	case riskfile.JSON:
		ctype = "application/json"
	case riskfile.YAML:
		var rows []map[string]any
		if err := yaml.Unmarshal(data, &rows); err != nil {
			return service.ImportResult{}, registry.Errorf(registry.EINVALID, "not a YAML array of objects: %v", err)
		}
		converted, err := json.Marshal(rows)
		if err != nil {
			return service.ImportResult{}, registry.Errorf(registry.EINVALID, "YAML that has no JSON form: %v", err)
		}
		data, ctype = converted, "application/json"
	}
	q := url.Values{}
	if dryRun {
		q.Set("dry_run", "true")
	}
	var res service.ImportResult
	err := b.send(ctx, http.MethodPost, "api/v1/import", q, bytes.NewReader(data), ctype, &res)
	return res, err
}

// export reads every risk through the API and turns the views back into
// risks for riskfile.Write, which writes import's columns.
func (b *remoteBackend) export(ctx context.Context) ([]*registry.Risk, error) {
	views, err := b.list(ctx, service.Query{})
	if err != nil {
		return nil, err
	}
	out := make([]*registry.Risk, len(views))
	for i, v := range views {
		r := &registry.Risk{Key: v.Key, Title: v.Title, Description: v.Description, Impact: v.Impact, Scope: v.Scope, Likelihood: v.Likelihood,
			ETTDMinutes: v.ETTDMinutes, ETTRMinutes: v.ETTRMinutes, ImpactPercent: v.ImpactPercent, ETTFDays: v.ETTFDays,
			Score: v.Score, Status: v.Status, LastReviewedAt: v.LastReviewedAt, ReviewDueAt: v.ReviewDueAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Version: v.Version}
		if v.Band != nil {
			r.Band = *v.Band
		}
		if v.Owner != nil {
			r.Owner = *v.Owner
		}
		if v.StatusReason != nil {
			r.StatusReason = *v.StatusReason
		}
		if v.AcceptedUntil != nil {
			if d, err := time.Parse(time.DateOnly, *v.AcceptedUntil); err == nil {
				r.AcceptedUntil = &d
			}
		}
		out[i] = r
	}
	return out, nil
}

// report reads the weekly report through the API; the CLI renders it in
// the format asked, as direct mode does.
func (b *remoteBackend) report(ctx context.Context, owner string) (*report.Report, error) {
	q := url.Values{}
	if owner != "" {
		q.Set("owner", owner)
	}
	var rep report.Report
	if err := b.do(ctx, http.MethodGet, "api/v1/report", q, nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
