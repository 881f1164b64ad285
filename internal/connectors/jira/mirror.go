package jira

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/risksync/risksync/internal/registry"
)

// The mirror: what risksync last saw of each project's epics and their
// children. The first use of a project lists them in full; later passes ask
// only for what changed ("updated >=" the previous search, overlapped), which
// is one search per project when nothing changed.

var searchFields = []string{"summary", "description", "priority", "labels", "status", "resolution",
	"issuetype", "parent", "project", "created", "updated"}

type epicSnap struct {
	ID, Key, Project     string
	RiskKey              string
	Summary, Description string
	Priority             idName
	Labels               []string
	StatusName           string
	StatusCat            string // new | indeterminate | done
	Resolution           string
	Created, Updated     time.Time
	History              []gojira.ChangelogHistory
	PropOK               bool   // the risksync property is known to be right
	Rank                 string // the Rank field (LexoRank, sorts lexically); "" when not read
}

type childSnap struct {
	Key, Parent      string
	StatusCat        string
	Created, Updated time.Time
}

const passMaxAge = 10 * time.Minute

type projectState struct {
	pass      int
	refreshed bool
	fullAt    time.Time
	cursor    time.Time
	epics     map[string]*epicSnap          // issue key → epic
	byRisk    map[string]string             // risk key → issue key
	bySummary map[string][]string           // risk key → issues titled "[RISK-n] …" without our label
	children  map[string]*childSnap         // child key → child
	reported  map[string]registry.EpicState // epic key → state last returned by PullBack
	dupes     map[string]bool               // risk keys already warned about
	fields    []string                      // what the epic search asks for, also when reading one by key
	rankField string                        // the Rank field's id when jira.rank orders backlogs
}

func newProjectState() *projectState {
	return &projectState{epics: map[string]*epicSnap{}, byRisk: map[string]string{}, bySummary: map[string][]string{},
		children: map[string]*childSnap{}, reported: map[string]registry.EpicState{}, dupes: map[string]bool{}}
}

// StartPass begins a sync pass: priorities and createmeta are read again and
// each project's epics are searched again (incrementally) on first use.
func (c *Client) StartPass(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pass++
	c.meta = map[string]*projectMeta{}
	return nil
}

// mirrored finds an epic's snapshot in the project mirrors, and says whether
// that mirror was refreshed in this pass.
func (c *Client) mirrored(key string) (st *projectState, e *epicSnap, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ps := range c.projects {
		if x := ps.epics[key]; x != nil {
			return ps, x, ps.refreshed && ps.pass == c.pass && c.now().Sub(ps.cursor) < passMaxAge
		}
	}
	return nil, nil, false
}

// refresh brings a project's mirror up to date once per pass.
func (c *Client) refresh(ctx context.Context, project string) (*projectState, error) {
	c.mu.Lock()
	st, pass := c.projects[project], c.pass
	c.mu.Unlock()
	// A pass is StartPass to StartPass; a mirror older than passMaxAge is
	// refreshed anyway, so a caller that never starts passes still sees changes.
	if st != nil && st.refreshed && st.pass == pass && c.now().Sub(st.cursor) < passMaxAge {
		return st, nil
	}
	me, err := c.myself(ctx)
	if err != nil {
		return nil, err
	}
	link, err := c.epicLinkField(ctx)
	if err != nil {
		return nil, err
	}
	fields := searchFields
	if link != "" {
		fields = append(append([]string(nil), searchFields...), link)
	}
	// The backlog's current order rides on this search: no request of its own.
	rank, err := c.rankFieldID(ctx)
	if err != nil {
		return nil, err
	}
	if rank != "" {
		fields = append(append([]string(nil), fields...), rank)
	}
	start := c.now()
	epicClause := fmt.Sprintf("project = %s AND (labels = %s OR issuetype = %s)", quote(project), quote("risk"), quote(c.epicType()))
	if st == nil || start.Sub(st.fullAt) >= c.full {
		ns := newProjectState()
		ns.fields, ns.rankField = fields, rank
		if st != nil {
			ns.reported = st.reported
		}
		issues, err := c.search(ctx, "search epics "+project, epicClause+" ORDER BY created ASC", fields, "changelog")
		if err != nil {
			return nil, err
		}
		for i := range issues {
			ns.absorbEpic(&issues[i], c)
		}
		for _, chunk := range chunks(sortedKeys(ns.epics), 1000) {
			fields := []string{"status", "parent", "created", "updated"}
			if link != "" {
				fields = append(fields, link)
			}
			kids, err := c.search(ctx, "search child issues "+project, childClause(chunk, link)+" ORDER BY created ASC", fields, "")
			if err != nil {
				return nil, err
			}
			for i := range kids {
				ns.absorbChild(&kids[i], link)
			}
		}
		ns.fullAt = start
		st = ns
	} else {
		st.fields, st.rankField = fields, rank
		since := jqlSince(st.cursor, me)
		keys := sortedKeys(st.epics)
		parts := chunks(keys, 1000)
		if len(parts) == 0 {
			parts = [][]string{nil}
		}
		for i, chunk := range parts {
			var where []string
			if i == 0 {
				where = append(where, "("+epicClause+")")
			}
			if len(chunk) > 0 {
				where = append(where, childClause(chunk, link))
			}
			jql := "updated >= " + since + " AND (" + strings.Join(where, " OR ") + ") ORDER BY updated ASC"
			issues, err := c.search(ctx, "search changes "+project, jql, fields, "changelog")
			if err != nil {
				return nil, err
			}
			for j := range issues {
				is := &issues[j]
				_, known := st.epics[is.Key]
				switch {
				case known || riskKeyOfLabels(is) != "" || summaryRiskKey(is) != "":
					if old := st.epics[is.Key]; old == nil || updatedOf(is).After(old.Updated) {
						st.absorbEpic(is, c)
					}
				case st.epics[parentOf(is, link)] != nil:
					st.absorbChild(is, link)
				default:
					delete(st.children, is.Key) // moved to another parent
				}
			}
		}
	}
	st.cursor, st.pass, st.refreshed = start, pass, true
	c.mu.Lock()
	c.projects[project] = st
	c.mu.Unlock()
	return st, nil
}

func (c *Client) epicType() string {
	if c.cfg.EpicIssueType != "" {
		return c.cfg.EpicIssueType
	}
	return "Epic"
}

func chunks(ss []string, n int) [][]string {
	var out [][]string
	for len(ss) > n {
		out = append(out, ss[:n])
		ss = ss[n:]
	}
	if len(ss) > 0 {
		out = append(out, ss)
	}
	return out
}

func updatedOf(is *gojira.Issue) time.Time {
	if is.Fields == nil {
		return time.Time{}
	}
	return time.Time(is.Fields.Updated)
}

// riskKeyOfLabels finds the risksync-RISK-<n> label.
func riskKeyOfLabels(is *gojira.Issue) string {
	if is.Fields == nil {
		return ""
	}
	for _, l := range is.Fields.Labels {
		if rest, ok := cutPrefixFold(l, "risksync-"); ok {
			if id, err := registry.ParseKey(rest); err == nil {
				return registry.FormatKey(id)
			}
		}
	}
	return ""
}

// summaryRiskKey reads "[RISK-<n>] …", a weaker hint confirmed by the issue property.
func summaryRiskKey(is *gojira.Issue) string {
	if is.Fields == nil || !strings.HasPrefix(is.Fields.Summary, "[") {
		return ""
	}
	end := strings.IndexByte(is.Fields.Summary, ']')
	if end < 0 {
		return ""
	}
	if id, err := registry.ParseKey(is.Fields.Summary[1:end]); err == nil {
		return registry.FormatKey(id)
	}
	return ""
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

func (st *projectState) absorbEpic(is *gojira.Issue, c *Client) {
	if is.Fields == nil {
		return
	}
	rk := riskKeyOfLabels(is)
	if rk == "" {
		if sk := summaryRiskKey(is); sk != "" && !contains(st.bySummary[sk], is.Key) {
			st.bySummary[sk] = append(st.bySummary[sk], is.Key)
		}
		if old := st.epics[is.Key]; old != nil && old.RiskKey != "" {
			rk = old.RiskKey // a person removed our label: still ours, labels get restored
		} else {
			return
		}
	}
	st.put(st.ranked(snapOf(is, rk), is))
	if cur, ok := st.byRisk[rk]; ok && cur != is.Key {
		// Two epics for one risk: adopt the oldest, say so once.
		if idNum(cur) < idNum(is.Key) && st.epics[cur] != nil {
			if !st.dupes[rk] {
				st.dupes[rk] = true
				c.log.Warn("jira: several epics carry one risk's label; adopting the oldest", "risk", rk, "epics", cur+","+is.Key)
			}
			return
		}
	}
	st.byRisk[rk] = is.Key
}

// absorbAs keeps an issue read by key as the risk's epic, labelled or not.
func (st *projectState) absorbAs(is *gojira.Issue, rk string) *epicSnap {
	e := st.ranked(snapOf(is, rk), is)
	st.put(e)
	st.byRisk[rk] = e.Key
	return e
}

// put stores a snapshot, keeping what is known about the property.
func (st *projectState) put(e *epicSnap) {
	if old := st.epics[e.Key]; old != nil {
		e.PropOK = old.PropOK
	}
	st.epics[e.Key] = e
}

func snapOf(is *gojira.Issue, rk string) *epicSnap {
	e := &epicSnap{ID: is.ID, Key: is.Key, RiskKey: rk}
	if f := is.Fields; f != nil {
		e.Project, e.Summary, e.Description = f.Project.Key, f.Summary, f.Description
		e.Labels, e.Created, e.Updated = append([]string(nil), f.Labels...), time.Time(f.Created), time.Time(f.Updated)
		if f.Priority != nil {
			e.Priority = idName{ID: f.Priority.ID, Name: f.Priority.Name}
		}
		if f.Status != nil {
			e.StatusName, e.StatusCat = f.Status.Name, f.Status.StatusCategory.Key
		}
		if f.Resolution != nil {
			e.Resolution = f.Resolution.Name
		}
	}
	if is.Changelog != nil {
		e.History = is.Changelog.Histories
	}
	return e
}

func (st *projectState) absorbChild(is *gojira.Issue, link string) {
	parent := parentOf(is, link)
	if parent == "" {
		return
	}
	f := is.Fields
	ch := &childSnap{Key: is.Key, Parent: parent, Created: time.Time(f.Created), Updated: time.Time(f.Updated)}
	if f.Status != nil {
		ch.StatusCat = f.Status.StatusCategory.Key
	}
	st.children[is.Key] = ch
}

// parentOf is the epic an issue belongs to: its parent, or on Data Center
// its Epic Link (there, parent only holds sub-tasks).
func parentOf(is *gojira.Issue, link string) string {
	if is.Fields == nil {
		return ""
	}
	if is.Fields.Parent != nil && is.Fields.Parent.Key != "" {
		return is.Fields.Parent.Key
	}
	if link != "" {
		if v, ok := is.Fields.Unknowns[link].(string); ok {
			return v
		}
	}
	return ""
}

// childClause selects the children of the given epics.
func childClause(keys []string, link string) string {
	list := strings.Join(keys, ", ")
	if link == "" {
		return "parent in (" + list + ")"
	}
	return "(parent in (" + list + ") OR cf[" + strings.TrimPrefix(link, "customfield_") + "] in (" + list + "))"
}

// epicLinkField finds the Epic Link custom field on Data Center, once.
// Jira Cloud links children through parent alone.
func (c *Client) epicLinkField(ctx context.Context) (string, error) {
	cloud, err := c.isCloud(ctx)
	if err != nil || cloud {
		return "", err
	}
	c.mu.Lock()
	v := c.epicLink
	c.mu.Unlock()
	if v != nil {
		return *v, nil
	}
	f, err := c.fieldIDs(ctx)
	if err != nil {
		return "", err
	}
	id := f.epicLink
	c.mu.Lock()
	c.epicLink = &id
	c.mu.Unlock()
	return id, nil
}

// idNum orders issue keys by their number (PAY-9 before PAY-10).
func idNum(key string) int {
	i := strings.LastIndexByte(key, '-')
	n, _ := strconv.Atoi(key[i+1:])
	return n
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Resolutions a person uses to say the work will not happen.
var notPlannedResolutions = map[string]bool{"won't do": true, "won't fix": true, "declined": true, "duplicate": true,
	"cannot reproduce": true, "obsolete": true, "rejected": true, "abandoned": true, "not a bug": true}

func (c *Client) stateOf(st *projectState, e *epicSnap) registry.EpicState {
	me := c.account()
	link := registry.Link{Tracker: registry.TrackerJira, Key: e.Key, URL: c.issueURL(e.Key), Current: true}
	started := false
	last := e.Created
	for _, ch := range st.children {
		if ch.Parent != e.Key {
			continue
		}
		link.ChildrenTotal++
		switch ch.StatusCat {
		case "done":
			link.ChildrenDone++
			started = true
		case "indeterminate":
			started = true
		}
		last = maxTime(last, ch.Created, ch.Updated)
	}
	// The epic's own state changes, unless risksync made them.
	for _, h := range e.History {
		if me.is(&h.Author) {
			continue
		}
		for _, it := range h.Items {
			if it.Field == "status" || it.Field == "resolution" {
				if t, err := parseJiraTime(h.Created); err == nil {
					last = maxTime(last, t)
				}
			}
		}
	}
	switch {
	case e.StatusCat == "done" && notPlannedResolutions[strings.ToLower(e.Resolution)]:
		link.State = registry.LinkNotPlanned
	case e.StatusCat == "done":
		link.State = registry.LinkDone
	case e.StatusCat == "indeterminate" || started:
		link.State = registry.LinkInProgress
	default:
		link.State = registry.LinkOpen
	}
	if !last.IsZero() {
		t := registry.Truncate(last)
		link.LastActivityAt = &t
	}
	return registry.EpicState{RiskKey: e.RiskKey, Link: link, ClosedByRisksync: e.StatusCat == "done" && me.is(lastStatusAuthor(e.History))}
}

// lastStatusAuthor is who made the newest status change in the changelog:
// for a closed epic, who closed it. nil when the changelog shows none.
func lastStatusAuthor(hs []gojira.ChangelogHistory) *gojira.User {
	var who *gojira.User
	var at time.Time
	for i := range hs {
		h := &hs[i]
		t, err := parseJiraTime(h.Created)
		if err != nil || !touches(*h, "status") || t.Before(at) {
			continue
		}
		who, at = &h.Author, t
	}
	return who
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// jiraTimeLayout is how Jira writes changelog and field times.
const jiraTimeLayout = "2006-01-02T15:04:05.000-0700"

func parseJiraTime(s string) (time.Time, error) {
	for _, l := range []string{"2006-01-02T15:04:05.999-0700", time.RFC3339Nano} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("jira: unreadable time %q", s)
}

// PullBack reports the epics of a project whose work state changed since the
// last call (all of them on the first call): link state, children total/done,
// the last movement of the linked work excluding risksync's own edits, and
// whether Jira's changelog says risksync closed it. Every labelled epic is
// reported under its own key, several of one risk included: the engine
// matches them by link key.
func (c *Client) PullBack(ctx context.Context, project string) ([]registry.EpicState, error) {
	c.op.Lock()
	defer c.op.Unlock()
	st, err := c.refresh(ctx, project)
	if err != nil {
		return nil, err
	}
	var out []registry.EpicState
	for _, key := range sortedKeys(st.epics) {
		s := c.stateOf(st, st.epics[key])
		if prev, ok := st.reported[key]; ok && sameState(prev, s) {
			continue
		}
		st.reported[key] = s
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RiskKey < out[j].RiskKey })
	return out, nil
}

func sameState(a, b registry.EpicState) bool {
	la, lb := a.Link, b.Link
	ta, tb := la.LastActivityAt, lb.LastActivityAt
	return la.State == lb.State && la.ChildrenTotal == lb.ChildrenTotal && la.ChildrenDone == lb.ChildrenDone &&
		a.ClosedByRisksync == b.ClosedByRisksync &&
		((ta == nil && tb == nil) || (ta != nil && tb != nil && ta.Equal(*tb)))
}
