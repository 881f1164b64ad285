package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/service"
)

var statuses = []registry.Status{registry.StatusActive, registry.StatusMitigating, registry.StatusMitigated, registry.StatusAccepted, registry.StatusRetired}

// row is one risk of the registry table.
type row struct {
	Key, Title, Owner, Status string
	Score                     *float64
	Band                      string
	BandClass                 string
	ReviewDue                 *time.Time
	Overdue                   bool
	Epic                      *registry.Link
	IdleDays                  int
	Stagnant, NeedsDecision   bool
}

type column struct {
	Name, Label, Href, Sort string // Sort: the aria-sort value
}

type registryData struct {
	Filters               url.Values
	Teams                 []string
	Bands                 []string
	Statuses              []registry.Status
	Columns               []column
	Rows                  []row
	Next, First           string
	Team, Band, Status, Q string
	Stagnant, ReviewDue   bool
	NeedsDecision         bool
}

func (u *UI) bandClass(band string) string {
	for i, b := range u.svc.Bands() {
		if b.Name == band {
			return fmt.Sprintf("band band-%d", min(i, 4))
		}
	}
	return "band band-none"
}

func (u *UI) registry(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := registryData{Filters: q, Statuses: statuses, Team: q.Get("team"), Band: q.Get("band"), Status: q.Get("status"), Q: q.Get("q"),
		Stagnant: q.Get("stagnant") == "on", ReviewDue: q.Get("review_due") == "on", NeedsDecision: q.Get("needs_decision") == "on"}
	sq := service.Query{Owner: d.Team, Band: d.Band, Text: d.Q, Stagnant: d.Stagnant, ReviewDue: d.ReviewDue, NeedsDecision: d.NeedsDecision,
		Sort: q.Get("sort"), Desc: q.Get("dir") == "desc", Limit: PageSize, Cursor: q.Get("cursor")}
	if d.Status != "" {
		sq.Status = []registry.Status{registry.Status(d.Status)}
	}
	teams, err := u.svc.Teams(v.Who)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, t := range teams {
		d.Teams = append(d.Teams, t.Name)
	}
	for _, b := range u.svc.Bands() {
		d.Bands = append(d.Bands, b.Name)
	}
	risks, next, err := u.svc.List(r.Context(), v.Who, sq)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	now := u.svc.Now()
	for _, risk := range risks {
		st := u.svc.Stagnation(risk)
		d.Rows = append(d.Rows, row{Key: risk.Key, Title: risk.Title, Owner: risk.Owner, Status: string(risk.Status), Score: risk.Score,
			Band: risk.Band, BandClass: u.bandClass(risk.Band), ReviewDue: risk.ReviewDueAt, Overdue: risk.ReviewDueAt != nil && risk.ReviewDueAt.Before(now),
			Epic: risk.CurrentLink(), IdleDays: st.IdleDays, Stagnant: st.Stagnant, NeedsDecision: service.NeedsDecision(risk)})
	}
	if next != "" {
		d.Next = query(q, "cursor", next)
	}
	if q.Get("cursor") != "" {
		d.First = query(q, "cursor", "")
	}
	sortCol, desc := q.Get("sort"), q.Get("dir") == "desc"
	for _, c := range []struct{ name, label string }{{"key", "Key"}, {"score", "Score"}, {"title", "Title"}, {"owner", "Owner"},
		{"status", "Status"}, {"review_due", "Review due"}, {"", "Epic"}, {"idle", "Idle days"}} {
		col := column{Name: c.name, Label: c.label}
		if c.name != "" {
			dir := "asc"
			if c.name == "score" || c.name == "idle" {
				dir = "desc" // the first click shows the worst first
			}
			switch {
			case c.name == sortCol && !desc:
				col.Sort, dir = "ascending", "desc"
			case c.name == sortCol && desc, c.name == "score" && sortCol == "":
				col.Sort, dir = "descending", "asc"
			}
			col.Href = query(q, "sort", c.name, "dir", dir, "cursor", "")
		}
		d.Columns = append(d.Columns, col)
	}
	v.Title, v.Data = "Registry", d
	u.render(w, r, http.StatusOK, "registry", v)
}

type riskData struct {
	Risk               service.RiskView
	BandClass          string
	History            []service.HistoryView // newest first
	Chart              template.HTML
	CanEdit            bool
	Teams              []string
	Ratings            []int
	Decided, Accepted  bool
	IdleDays           int
	Stagnant, NeedsDec bool
	Tomorrow           string
}

func (u *UI) risk(w http.ResponseWriter, r *http.Request, v *view) {
	u.showRisk(w, r, v, http.StatusOK)
}

func (u *UI) showRisk(w http.ResponseWriter, r *http.Request, v *view, status int) {
	risk, hist, err := u.svc.Get(r.Context(), v.Who, r.PathValue("key"), 0)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	teams, err := u.svc.Teams(v.Who)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	rv := u.svc.View(risk, hist)
	st := u.svc.Stagnation(risk)
	d := riskData{Risk: rv, BandClass: u.bandClass(risk.Band), History: slices.Clone(rv.History), Chart: scoreChart(hist),
		CanEdit: v.Who.CanEdit(risk.Owner), Ratings: []int{1, 2, 3, 4, 5}, Decided: risk.Status.Decided(),
		Accepted: risk.Status == registry.StatusAccepted, IdleDays: st.IdleDays, Stagnant: st.Stagnant, NeedsDec: service.NeedsDecision(risk),
		Tomorrow: u.svc.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)}
	slices.Reverse(d.History)
	for _, t := range teams {
		d.Teams = append(d.Teams, t.Name)
	}
	v.Title, v.Data = risk.Key+" "+risk.Title, d
	u.render(w, r, status, "risk", v)
}

type agendaData struct {
	Report *report.Report
	Team   string
	Teams  []string
	Stuck  []report.Top
}

// agenda is this week's review meeting, from the weekly report's lists.
func (u *UI) agenda(w http.ResponseWriter, r *http.Request, v *view) {
	rep, err := u.svc.Report(r.Context(), v.Who, r.URL.Query().Get("team"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	team := ""
	if rep.OwnerFilter != nil {
		team = *rep.OwnerFilter
	}
	d := agendaData{Report: rep, Team: team}
	teams, _ := u.svc.Teams(v.Who)
	for _, t := range teams {
		d.Teams = append(d.Teams, t.Name)
	}
	for _, t := range rep.Top {
		if t.Stuck {
			d.Stuck = append(d.Stuck, t)
		}
	}
	v.Title, v.Data = "Review agenda", d
	u.render(w, r, http.StatusOK, "agenda", v)
}

var styleBlock = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// weeklyReport serves the report's own self-contained page with the UI's
// navigation added; its one inline stylesheet is allowed by hash, so the
// page keeps a CSP without 'unsafe-inline'.
func (u *UI) weeklyReport(w http.ResponseWriter, r *http.Request, v *view) {
	rep, err := u.svc.Report(r.Context(), v.Who, r.URL.Query().Get("owner"))
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	var page bytes.Buffer
	if err := report.RenderHTML(&page, rep); err != nil {
		u.fail(w, r, v, err)
		return
	}
	var nav bytes.Buffer
	if err := u.pages["reportnav"].ExecuteTemplate(&nav, "nav", v); err != nil {
		u.fail(w, r, v, err)
		return
	}
	html := page.String()
	csp := CSP
	if m := styleBlock.FindStringSubmatch(html); m != nil {
		sum := sha256.Sum256([]byte(m[1]))
		csp = strings.Replace(CSP, "style-src 'self'", "style-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'", 1)
	}
	html = strings.Replace(html, "</head>", `<link rel="stylesheet" href="/static/ui.css"></head>`, 1)
	html = strings.Replace(html, "<body>", "<body>"+nav.String(), 1)
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(html))
}
