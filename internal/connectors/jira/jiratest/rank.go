package jiratest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Ranking, as Jira Software does it: every issue has a LexoRank-like value
// in the Rank custom field (a string that sorts lexically in rank order),
// and PUT /rest/agile/1.0/issue/rank moves up to 50 issues before or after
// another, each getting a value between its new neighbours. Rebalancing is
// not modelled. Moves are recorded in the changelog ("Rank": "Ranked
// higher"/"Ranked lower") and bump updated, as on Jira.

// The Rank field.
const (
	RankField   = "customfield_10019"
	RankFieldID = 10019
	RankSchema  = "com.pyxis.greenhopper.jira:gh-lexo-rank"
	RankRoute   = "/rest/agile/1.0/issue/rank"
)

type rankState struct {
	seq    int
	denied map[string]bool // projects where the account lacks Schedule Issues
	fail   map[string]int  // issue key → rank calls that fail for it (207)
}

const rankDigits = "0123456789abcdefghijklmnopqrstuvwxyz"

// nextRank places a new issue after every issue created before it.
func (s *Server) nextRank() string {
	s.rank.seq++
	n := s.rank.seq * 36 * 36
	d := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		d[i] = rankDigits[n%36]
		n /= 36
	}
	return strings.TrimRight(string(d), "0")
}

// renderRank shows digits the way Jira shows a LexoRank: bucket, six
// digits, colon, then any finer digits. It sorts like the digits do.
func renderRank(d string) string {
	head := d
	if len(head) < 6 {
		head += strings.Repeat("0", 6-len(head))
	}
	return "0|" + head[:6] + ":" + head[6:]
}

func digitOf(c byte) int { return strings.IndexByte(rankDigits, c) }

// midRank returns digits strictly between a and b (base-36 fractions
// without trailing zeros; b == "" is the top).
func midRank(a, b string) string {
	if b != "" {
		n := 0
		for n < len(b) {
			ca := byte('0')
			if n < len(a) {
				ca = a[n]
			}
			if ca != b[n] {
				break
			}
			n++
		}
		if n > 0 {
			rest := ""
			if n < len(a) {
				rest = a[n:]
			}
			return b[:n] + midRank(rest, b[n:])
		}
	}
	da, db := 0, 36
	if a != "" {
		da = digitOf(a[0])
	}
	if b != "" {
		db = digitOf(b[0])
	}
	if db-da > 1 {
		return string(rankDigits[(da+db)/2])
	}
	if b != "" && len(b) > 1 {
		return b[:1]
	}
	rest := ""
	if a != "" {
		rest = a[1:]
	}
	return string(rankDigits[da]) + midRank(rest, "")
}

// ranked returns every issue in rank order.
func (s *Server) ranked() []*issue {
	out := append([]*issue(nil), s.issues...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank < out[j].rank })
	return out
}

// place gives moving the values between after's and before's neighbours,
// in order; exactly one of after and before is set.
func (s *Server) place(moving []*issue, after, before *issue, author string) {
	skip := map[*issue]bool{}
	for _, is := range moving {
		skip[is] = true
	}
	var order []*issue
	for _, is := range s.ranked() {
		if !skip[is] {
			order = append(order, is)
		}
	}
	lo, hi := "", ""
	for i, is := range order {
		if after != nil && is == after {
			lo = is.rank
			if i+1 < len(order) {
				hi = order[i+1].rank
			}
		}
		if before != nil && is == before {
			hi = is.rank
			if i > 0 {
				lo = order[i-1].rank
			}
		}
	}
	for _, is := range moving {
		old := is.rank
		is.rank = midRank(lo, hi)
		lo = is.rank
		dir := "Ranked lower"
		if is.rank < old {
			dir = "Ranked higher"
		}
		s.record(is, author, []HistoryItem{{"Rank", "", dir}})
	}
}

// RankAfter moves key directly after anchor, as a person dragging it in a backlog.
func (s *Server) RankAfter(key, anchor string) { s.personRank(key, anchor, true) }

// RankBefore moves key directly before anchor, as a person.
func (s *Server) RankBefore(key, anchor string) { s.personRank(key, anchor, false) }

func (s *Server) personRank(key, anchor string, after bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, at := s.byKey[key], s.byKey[anchor]
	if is == nil || at == nil {
		s.t.Fatalf("jiratest: rank %s by %s: unknown issue", key, anchor)
	}
	if after {
		s.place([]*issue{is}, at, nil, PersonAccountID)
	} else {
		s.place([]*issue{is}, nil, at, PersonAccountID)
	}
}

// RankOrder lists a project's issues (of the given type, "" for all) in rank order.
func (s *Server) RankOrder(project, typ string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, is := range s.ranked() {
		if is.project.Key == project && (typ == "" || strings.EqualFold(is.typ.Name, typ)) {
			out = append(out, is.Key)
		}
	}
	return out
}

// Rank is an issue's Rank field value as Jira shows it.
func (s *Server) Rank(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return renderRank(s.byKey[key].rank)
}

// DenySchedule takes the Schedule Issues permission in project away from
// the authenticated account: ranking its issues answers 403.
func (s *Server) DenySchedule(project string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rank.denied == nil {
		s.rank.denied = map[string]bool{}
	}
	s.rank.denied[project] = true
}

// FailRank makes the next rank call that includes each key fail for that
// issue alone: the call answers 207 with per-issue results.
func (s *Server) FailRank(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rank.fail == nil {
		s.rank.fail = map[string]int{}
	}
	for _, k := range keys {
		s.rank.fail[k]++
	}
}

func (s *Server) rankIssues(w http.ResponseWriter, body []byte) {
	var req struct {
		Issues            []string `json:"issues"`
		RankBeforeIssue   string   `json:"rankBeforeIssue"`
		RankAfterIssue    string   `json:"rankAfterIssue"`
		RankCustomFieldID *int     `json:"rankCustomFieldId"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, 400, errorBody("Invalid request payload."))
		return
	}
	switch {
	case len(req.Issues) == 0:
		writeJSON(w, 400, errorBody("The issues to rank must be specified."))
		return
	case len(req.Issues) > 50:
		writeJSON(w, 400, errorBody("Only 50 issues can be ranked at once."))
		return
	case (req.RankBeforeIssue == "") == (req.RankAfterIssue == ""):
		writeJSON(w, 400, errorBody("Specify either rankBeforeIssue or rankAfterIssue."))
		return
	case req.RankCustomFieldID != nil && *req.RankCustomFieldID != RankFieldID:
		writeJSON(w, 400, errorBody("The rank custom field "+strconv.Itoa(*req.RankCustomFieldID)+" does not exist."))
		return
	}
	anchorKey := req.RankAfterIssue + req.RankBeforeIssue
	anchor := s.lookup(anchorKey)
	if anchor == nil {
		writeJSON(w, 400, errorBody("Issue '"+anchorKey+"' does not exist or you do not have permission to see it."))
		return
	}
	type entry struct {
		IssueID  int      `json:"issueId"`
		IssueKey string   `json:"issueKey"`
		Status   int      `json:"status"`
		Errors   []string `json:"errors,omitempty"`
	}
	var entries []entry
	var moving []*issue
	partial := false
	for _, k := range req.Issues {
		is := s.lookup(k)
		switch {
		case is == nil:
			entries = append(entries, entry{IssueKey: k, Status: 404, Errors: []string{"Issue does not exist or you do not have permission to see it."}})
			partial = true
			continue
		case s.rank.denied[is.project.Key] || s.rank.denied[anchor.project.Key]:
			writeJSON(w, http.StatusForbidden, errorBody("You don't have permission to rank issues: the Schedule Issues permission is required."))
			return
		case is == anchor:
			writeJSON(w, 400, errorBody("An issue cannot be ranked relative to itself."))
			return
		case s.rank.fail[is.Key] > 0:
			s.rank.fail[is.Key]--
			entries = append(entries, entry{IssueID: is.ID, IssueKey: is.Key, Status: 503, Errors: []string{"Ranking failed because another rank operation was in progress. Try again."}})
			partial = true
			continue
		}
		entries = append(entries, entry{IssueID: is.ID, IssueKey: is.Key, Status: 200})
		moving = append(moving, is)
	}
	if len(moving) > 0 {
		if req.RankAfterIssue != "" {
			s.place(moving, anchor, nil, BotAccountID)
		} else {
			s.place(moving, nil, anchor, BotAccountID)
		}
	}
	if partial {
		writeJSON(w, http.StatusMultiStatus, map[string]any{"entries": entries})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// lookup finds an issue by key or id, nil if none.
func (s *Server) lookup(idOrKey string) *issue {
	if is := s.byKey[strings.ToUpper(idOrKey)]; is != nil {
		return is
	}
	for _, is := range s.issues {
		if strconv.Itoa(is.ID) == idOrKey {
			return is
		}
	}
	return nil
}
