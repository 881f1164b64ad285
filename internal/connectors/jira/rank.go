package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/ranking"
	"github.com/risksync/risksync/internal/registry"
)

// Backlog order (jira.rank: by_score). Jira Software keeps one global order
// in the Rank custom field, a LexoRank string that sorts lexically. The
// current order of a project's risk epics comes from the mirror (the epic
// search asks for the Rank field), so a pass that finds it right sends
// nothing. Changes go through Jira Software's agile API, which is not in
// the platform's OpenAPI description:
//
//	PUT /rest/agile/1.0/issue/rank
//	{"issues":["PAY-3",…] (≤ 50), "rankAfterIssue"|"rankBeforeIssue":"PAY-1", "rankCustomFieldId":10019}
//
// 204 when every issue moved; 207 with {"entries":[{"issueId","issueKey",
// "status","errors"}]} when some did not; 403 without the Schedule Issues
// permission.

var _ registry.Backlog = (*Client)(nil)

const (
	rankSchema     = "com.pyxis.greenhopper.jira:gh-lexo-rank"
	epicLinkSchema = "com.pyxis.greenhopper.jira:gh-epic-link"
	maxRankBatch   = 50 // Jira's limit per rank call
	rankPath       = "rest/agile/1.0/issue/rank"
)

// fieldIDs are custom fields risksync finds by their schema, not their id
// (ids differ between sites).
type fieldIDs struct {
	epicLink string // Data Center's Epic Link
	rank     string // Jira Software's Rank
}

// fieldIDs lists /field once per client.
func (c *Client) fieldIDs(ctx context.Context) (*fieldIDs, error) {
	c.mu.Lock()
	f := c.fields
	c.mu.Unlock()
	if f != nil {
		return f, nil
	}
	var list []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Schema struct {
			Custom string `json:"custom"`
		} `json:"schema"`
	}
	if err := c.doJSON(ctx, "list fields", http.MethodGet, "rest/api/2/field", nil, &list); err != nil {
		return nil, err
	}
	f = &fieldIDs{}
	rankName := ""
	for _, x := range list {
		switch x.Schema.Custom {
		case epicLinkSchema:
			f.epicLink = x.ID
		case rankSchema:
			// Sites migrated from old versions may keep a second one; the
			// one named Rank is the board's.
			if f.rank == "" || (x.Name == "Rank" && rankName != "Rank") {
				f.rank, rankName = x.ID, x.Name
			}
		}
	}
	c.mu.Lock()
	c.fields = f
	c.mu.Unlock()
	return f, nil
}

func (c *Client) ranking() bool { return c.cfg.Rank == config.JiraRankByScore }

// rankFieldID is the Rank field's id when backlogs are ordered, else "".
func (c *Client) rankFieldID(ctx context.Context) (string, error) {
	if !c.ranking() {
		return "", nil
	}
	f, err := c.fieldIDs(ctx)
	if err != nil {
		return "", err
	}
	return f.rank, nil
}

// ranked copies the Rank field of a searched issue into its snapshot.
func (st *projectState) ranked(e *epicSnap, is *gojira.Issue) *epicSnap {
	if st.rankField != "" && is.Fields != nil {
		if v, ok := is.Fields.Unknowns[st.rankField].(string); ok {
			e.Rank = v
		}
	}
	return e
}

func (st *projectState) epicFields() []string {
	if st.fields == nil {
		return searchFields
	}
	return st.fields
}

// OrderBacklog ranks each project's risk epics in the given order among
// themselves, with the fewest moves; issues that are not risk epics keep
// their relative places. Done epics are off the backlog and left alone.
// Moves that undo a person's reorder carry Write.Drift. Epics Jira did not
// rank (207) are named in the error and ranked again next pass, from the
// order read then.
func (c *Client) OrderBacklog(ctx context.Context, items []registry.BacklogItem, dryRun bool) ([]registry.Write, error) {
	if !c.ranking() {
		return nil, nil
	}
	c.op.Lock()
	defer c.op.Unlock()
	byProject := map[string][]registry.BacklogItem{}
	var projects []string
	for _, it := range items {
		p := projectOfKey(it.Epic.Key)
		if p == "" || it.Risk == nil {
			continue
		}
		if _, seen := byProject[p]; !seen {
			projects = append(projects, p)
		}
		byProject[p] = append(byProject[p], it)
	}
	var writes []registry.Write
	var errs []error
	for _, p := range projects {
		w, err := c.rankProject(ctx, p, byProject[p], dryRun)
		writes = append(writes, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return writes, errors.Join(errs...)
}

func projectOfKey(key string) string {
	if i := strings.LastIndexByte(key, '-'); i > 0 {
		return key[:i]
	}
	return ""
}

// rankCall is one request: issues placed, in order, after or before anchor.
type rankCall struct {
	issues []string
	anchor string
	before bool
}

func (c *Client) rankProject(ctx context.Context, project string, items []registry.BacklogItem, dryRun bool) ([]registry.Write, error) {
	op := "rank epics in " + project
	st, err := c.refresh(ctx, project)
	if err != nil {
		return nil, err
	}
	if st.rankField == "" {
		return nil, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op,
			Err: errors.New("the site has no Rank field (custom field type " + rankSchema + ")"),
			Fix: "jira.rank: by_score needs Jira Software; set jira.rank: off on sites without it"}
	}
	riskOf := map[string]string{}
	var desired []string
	for _, it := range items {
		e := st.epics[it.Epic.Key]
		if e == nil || e.StatusCat == "done" || riskOf[e.Key] != "" {
			continue // not seen (yet), or off the backlog
		}
		riskOf[e.Key] = it.Risk.Key
		desired = append(desired, e.Key)
	}
	if len(desired) < 2 {
		return nil, nil
	}
	var current []string
	unknown := map[string]bool{} // created this pass: where Jira put it is not known
	for _, k := range desired {
		if st.epics[k].Rank == "" {
			unknown[k] = true
		} else {
			current = append(current, k)
		}
	}
	sort.SliceStable(current, func(i, j int) bool {
		a, b := st.epics[current[i]], st.epics[current[j]]
		if a.Rank != b.Rank {
			return a.Rank < b.Rank
		}
		return idNum(a.Key) < idNum(b.Key)
	})
	me := c.account()
	personMoved := map[string]bool{}
	for _, k := range current {
		if who := lastFieldAuthor(st.epics[k].History, "rank"); who != nil && !me.is(who) {
			personMoved[k] = true
		}
	}
	moves := planMoves(current, desired, unknown, personMoved)
	if len(moves) == 0 {
		return nil, nil
	}
	from := map[string]int{}
	for i, k := range current {
		from[k] = i + 1
	}
	to := map[string]int{}
	for i, k := range desired {
		to[k] = i + 1
	}
	write := func(k string) registry.Write {
		old := "unranked"
		if n := from[k]; n > 0 {
			old = strconv.Itoa(n)
		}
		return registry.Write{Kind: registry.WriteMove, Risk: riskOf[k], Tracker: registry.TrackerJira, Target: k,
			Fields: map[string][2]string{"rank": {old, strconv.Itoa(to[k])}}, Drift: personMoved[k]}
	}
	calls := batchMoves(moves, desired)
	if dryRun {
		var out []registry.Write
		for _, m := range moves {
			out = append(out, write(m.Item))
		}
		return out, nil
	}
	fieldNum, _ := strconv.Atoi(strings.TrimPrefix(st.rankField, "customfield_"))
	var out []registry.Write
	var failed []string
	notPlaced := map[string]bool{}
	for _, call := range calls {
		if notPlaced[call.anchor] {
			// Its anchor is not where the plan put it: these wait for the
			// next pass, which starts from the order Jira shows then.
			for _, k := range call.issues {
				notPlaced[k] = true
				failed = append(failed, fmt.Sprintf("%s (%s): its anchor %s was not ranked", k, riskOf[k], call.anchor))
			}
			continue
		}
		body := map[string]any{"issues": call.issues}
		if call.before {
			body["rankBeforeIssue"] = call.anchor
		} else {
			body["rankAfterIssue"] = call.anchor
		}
		if fieldNum > 0 {
			body["rankCustomFieldId"] = fieldNum
		}
		var res struct {
			Entries []struct {
				IssueID  int      `json:"issueId"`
				IssueKey string   `json:"issueKey"`
				Status   int      `json:"status"`
				Errors   []string `json:"errors"`
			} `json:"entries"`
		}
		if err := c.doJSON(ctx, op, http.MethodPut, rankPath, body, &res); err != nil {
			var te *registry.TrackerError
			if errors.As(err, &te) && te.Status == http.StatusForbidden {
				te.Retryable = false
				te.Err = fmt.Errorf("the risksync account needs the Schedule Issues permission in project %s to rank epics: %w", project, te.Err)
				te.Fix = "grant it in the project's permission scheme, or set jira.rank: off"
			}
			return out, err
		}
		bad := map[string]string{}
		for _, en := range res.Entries {
			if en.Status < 200 || en.Status > 299 {
				k := en.IssueKey
				if k == "" {
					k = c.keyOfID(st, en.IssueID)
				}
				bad[k] = fmt.Sprintf("%d %s", en.Status, strings.Join(en.Errors, "; "))
			}
		}
		var placed []string
		for _, k := range call.issues {
			if msg, ok := bad[k]; ok {
				notPlaced[k] = true
				failed = append(failed, fmt.Sprintf("%s (%s): %s", k, riskOf[k], strings.TrimSpace(msg)))
				continue
			}
			placed = append(placed, k)
			out = append(out, write(k))
		}
		st.applyRank(placed, call.anchor, call.before)
	}
	if len(failed) > 0 {
		c.log.Warn("jira: some epics were not ranked; next pass tries again", "project", project, "failed", len(failed))
		return out, &registry.TrackerError{Tracker: registry.TrackerJira, Op: op, Status: http.StatusMultiStatus, Retryable: true,
			Err: fmt.Errorf("Jira did not rank %d of %d epics, ranked again next pass: %s", len(failed), len(moves), strings.Join(failed, "; "))}
	}
	c.log.Info("jira: ranked epics in score order", "project", project, "moves", len(out), "calls", len(calls))
	return out, nil
}

func (c *Client) keyOfID(st *projectState, id int) string {
	for k, e := range st.epics {
		if e.ID == strconv.Itoa(id) {
			return k
		}
	}
	return strconv.Itoa(id)
}

// planMoves is the fewest moves (ranking.Moves: n − LIS) that put the
// ranked epics in desired order, plus a move for each epic of unknown rank.
// Among plans as short, it moves the epics a person moved: they are the
// ones their comment belongs on.
func planMoves(current, desired []string, unknown, personMoved map[string]bool) []ranking.Move {
	moved := map[string]bool{}
	for _, m := range ranking.Moves(current, desired) {
		moved[m.Item] = true
	}
	if len(personMoved) > 0 {
		var rest []string
		alt := map[string]bool{}
		for _, k := range current {
			if personMoved[k] {
				alt[k] = true
			} else {
				rest = append(rest, k)
			}
		}
		for _, m := range ranking.Moves(rest, desired) {
			alt[m.Item] = true
		}
		if len(alt) <= len(moved) {
			moved = alt
		}
	}
	for k := range unknown {
		moved[k] = true
	}
	if len(moved) == len(desired) {
		delete(moved, desired[0]) // nothing stays: the first one is the anchor
	}
	var out []ranking.Move
	prev := ""
	for _, k := range desired {
		if moved[k] {
			out = append(out, ranking.Move{Item: k, After: prev})
		}
		prev = k
	}
	return out
}

// batchMoves turns moves into rank calls: a run of moves, each after the
// previous one, is one call of up to 50 issues after the run's anchor. A
// run at the top goes before the first epic that stays, its calls sent
// last chunk first so that each has its anchor in place.
func batchMoves(moves []ranking.Move, desired []string) []rankCall {
	next := map[string]string{}
	for i := 0; i+1 < len(desired); i++ {
		next[desired[i]] = desired[i+1]
	}
	var calls []rankCall
	for i := 0; i < len(moves); {
		j := i + 1
		for j < len(moves) && moves[j].After == moves[j-1].Item {
			j++
		}
		run := moves[i:j]
		if run[0].After != "" {
			anchor := run[0].After
			for len(run) > 0 {
				n := min(maxRankBatch, len(run))
				calls = append(calls, rankCall{issues: items(run[:n]), anchor: anchor})
				anchor, run = run[n-1].Item, run[n:]
			}
		} else {
			anchor := next[run[len(run)-1].Item]
			var top []rankCall
			for len(run) > 0 {
				n := min(maxRankBatch, len(run))
				chunk := run[len(run)-n:]
				top = append(top, rankCall{issues: items(chunk), anchor: anchor, before: true})
				anchor, run = chunk[0].Item, run[:len(run)-n]
			}
			calls = append(calls, top...)
		}
		i = j
	}
	return calls
}

func items(ms []ranking.Move) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Item
	}
	return out
}

// applyRank updates the mirror after a rank call, so the rest of the pass
// sees the order it wrote. Jira's new values are not in its answer: these
// stand in, ordered like them among the mirrored epics, until the next
// search (a rank change bumps updated) brings the real ones.
func (st *projectState) applyRank(placed []string, anchor string, before bool) {
	a := st.epics[anchor]
	if len(placed) == 0 || a == nil {
		return
	}
	if a.Rank == "" {
		// Only when every epic is new: the anchor stands below the rest.
		top := ""
		for _, e := range st.epics {
			top = max(top, e.Rank)
		}
		a.Rank = rankBetween(top, "")
	}
	skip := map[string]bool{}
	for _, k := range placed {
		skip[k] = true
	}
	var order []*epicSnap
	for k, e := range st.epics {
		if !skip[k] && e.Rank != "" {
			order = append(order, e)
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Rank < order[j].Rank })
	lo, hi := a.Rank, ""
	for i, e := range order {
		if e != a {
			continue
		}
		if before {
			lo, hi = "", a.Rank
			if i > 0 {
				lo = order[i-1].Rank
			}
		} else if i+1 < len(order) {
			hi = order[i+1].Rank
		}
	}
	for _, k := range placed {
		if e := st.epics[k]; e != nil {
			e.Rank = rankBetween(lo, hi)
			lo = e.Rank
		}
	}
}

// rankBetween returns a string s with lo < s and, unless hi is "", s < hi.
// It needs lo < hi.
func rankBetween(lo, hi string) string {
	if hi == "" || !strings.HasPrefix(hi, lo) {
		// Past the first difference lo is below hi whatever follows.
		n := 0
		for n < len(lo) && n < len(hi) && lo[n] == hi[n] {
			n++
		}
		if n+1 < len(lo) && lo[n+1] < 0xff {
			return lo[:n+1] + string([]byte{lo[n+1] + 1})
		}
		return lo + "\x7f"
	}
	// lo is a prefix of hi: go below hi's next byte.
	if b := hi[len(lo)]; b > 0 {
		return lo + string([]byte{b - 1}) + "\x7f"
	}
	return lo + "\x00" + rankBetween("", hi[len(lo)+1:])
}

// lastFieldAuthor is who made the newest change to field, nil if none shows.
func lastFieldAuthor(hs []gojira.ChangelogHistory, field string) *gojira.User {
	var who *gojira.User
	var at time.Time
	for i := range hs {
		h := &hs[i]
		t, err := parseJiraTime(h.Created)
		if err != nil || !touches(*h, field) || (who != nil && t.Before(at)) {
			continue
		}
		who, at = &h.Author, t
	}
	return who
}
