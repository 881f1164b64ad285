package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// memTracker is a small stateful tracker for engine tests: epics found by
// risk key, writes counted, person actions simulated, faults injected.
type memTracker struct {
	mu       gosync.Mutex
	name     string
	next     int
	epics    map[string]*memEpic // by key
	comments map[string][]string
	writes   int
	// searchLag hides epics created less than this many calls ago from
	// lookups, like an eventually consistent search.
	searchLag int
	calls     int
	callsFor  map[string]int // EnsureEpic calls by risk key
	// failCreate makes the next n creates commit but report an error, like
	// a response lost after the tracker stored the epic.
	failCreate  int
	failEnsure  map[string]error // by risk key
	failComment int              // the next n comments fail
	postmortems []registry.Postmortem
}

type memEpic struct {
	key, target, risk, title, band, owner string
	state                                 registry.LinkState
	children, done                        int
	createdCall                           int
	dirty                                 bool
	closedByPerson                        bool
	closedByUs                            bool
	deleted                               bool
}

func newMemTracker(name string) *memTracker {
	return &memTracker{name: name, epics: map[string]*memEpic{}, comments: map[string][]string{}, failEnsure: map[string]error{}, callsFor: map[string]int{}}
}

func (m *memTracker) keyFor(target string) string {
	m.next++
	if m.name == registry.TrackerJira {
		return fmt.Sprintf("%s-%d", target, m.next)
	}
	return fmt.Sprintf("%s#%d", target, m.next)
}

func (m *memTracker) StartPass(context.Context) error { return nil }

func (m *memTracker) find(target, risk string, exclude []string) *memEpic {
	var found *memEpic
	for _, e := range m.epics {
		if e.target == target && e.risk == risk && !e.deleted && m.calls-e.createdCall >= m.searchLag && !slices.Contains(exclude, e.key) &&
			(found == nil || e.createdCall < found.createdCall) {
			found = e
		}
	}
	return found
}

func (m *memTracker) EnsureEpic(_ context.Context, spec registry.EpicSpec, dryRun bool) (registry.EpicResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.callsFor[spec.Risk.Key]++
	if err := m.failEnsure[spec.Risk.Key]; err != nil {
		return registry.EpicResult{}, err
	}
	band := "unscored"
	if spec.Band != "" {
		band = spec.Band
	}
	title := "[" + spec.Risk.Key + "] " + spec.Risk.Title
	var e *memEpic
	if spec.Linked != nil {
		// Read by key: strongly consistent, unlike the lagging search.
		if e = m.epics[spec.Linked.Key]; e == nil || e.deleted {
			return registry.EpicResult{Gone: spec.Linked.Key}, nil
		}
	} else {
		e = m.find(spec.Target, spec.Risk.Key, spec.Exclude)
	}
	if e == nil {
		if !spec.MayCreate {
			return registry.EpicResult{}, registry.ErrCreateWithheld
		}
		w := registry.Write{Kind: "create", Target: spec.Target, Fields: map[string][2]string{"title": {"", title}, "band": {"", band}}}
		if dryRun {
			return registry.EpicResult{Writes: []registry.Write{w}, Created: true}, nil
		}
		e = &memEpic{key: m.keyFor(spec.Target), target: spec.Target, risk: spec.Risk.Key, title: title, band: band, owner: spec.Risk.Owner,
			state: registry.LinkOpen, createdCall: m.calls, dirty: true}
		m.epics[e.key] = e
		m.writes++
		if m.failCreate > 0 {
			m.failCreate--
			return registry.EpicResult{Writes: []registry.Write{w}}, &registry.TrackerError{Tracker: m.name, Op: "create", Retryable: true, Err: fmt.Errorf("connection reset after sending")}
		}
		return registry.EpicResult{Link: m.link(e), Writes: []registry.Write{w}}, nil
	}
	var res registry.EpicResult
	fields := map[string][2]string{}
	if e.title != title {
		fields["title"] = [2]string{e.title, title}
	}
	if e.band != band {
		fields["band"] = [2]string{e.band, band}
	}
	if e.owner != spec.Risk.Owner {
		fields["owner"] = [2]string{e.owner, spec.Risk.Owner}
	}
	if len(fields) > 0 {
		res.Writes = append(res.Writes, registry.Write{Kind: "update", Target: e.key, Fields: fields})
		if _, ok := fields["title"]; ok && strings.HasPrefix(e.title, "EDITED") {
			res.Drift = append(res.Drift, "title")
		}
		if !dryRun {
			e.title, e.band, e.owner = title, band, spec.Risk.Owner
			m.writes++
		}
	}
	res.Link = m.link(e)
	return res, nil
}

func (m *memTracker) link(e *memEpic) registry.Link {
	return registry.Link{Tracker: m.name, Key: e.key, URL: "https://tracker.example/" + e.key, State: e.state,
		ChildrenTotal: e.children, ChildrenDone: e.done, Current: true}
}

func (m *memTracker) CloseEpic(_ context.Context, key, comment string, dryRun bool) ([]registry.Write, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.epics[key]
	if e.deleted {
		return nil, &registry.TrackerError{Tracker: m.name, Op: "close " + key, Status: 404, Err: fmt.Errorf("not found")}
	}
	if e.state != registry.LinkOpen && e.state != registry.LinkInProgress {
		return nil, nil // closed already: the tracker's state decides
	}
	w := []registry.Write{{Kind: "close", Target: key}, {Kind: "comment", Target: key}}
	if dryRun {
		return w, nil
	}
	e.state, e.dirty, e.closedByUs = registry.LinkNotPlanned, true, true
	m.comments[key] = append(m.comments[key], comment)
	m.writes += 2
	return w, nil
}

func (m *memTracker) ReopenEpic(_ context.Context, key, comment string, dryRun bool) ([]registry.Write, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.epics[key]
	if e.state == registry.LinkOpen || e.state == registry.LinkInProgress {
		return nil, nil
	}
	w := []registry.Write{{Kind: "reopen", Target: key}}
	if dryRun {
		return w, nil
	}
	e.state, e.dirty, e.closedByUs = registry.LinkOpen, true, false
	m.comments[key] = append(m.comments[key], comment)
	m.writes += 2
	return w, nil
}

func (m *memTracker) PullBack(_ context.Context, target string) ([]registry.EpicState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []registry.EpicState
	for _, e := range m.epics {
		if e.target == target && e.dirty && !e.deleted { // a tracker lists no deleted issue
			e.dirty = false
			out = append(out, registry.EpicState{RiskKey: e.risk, Link: m.link(e), ClosedByRisksync: e.closedByUs})
		}
	}
	return out, nil
}

func (m *memTracker) Postmortems(_ context.Context, since time.Time) ([]registry.Postmortem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []registry.Postmortem
	for _, pm := range m.postmortems {
		if pm.UpdatedAt.After(since) {
			out = append(out, pm)
		}
	}
	return out, nil
}

func (m *memTracker) Comment(_ context.Context, key, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failComment > 0 {
		m.failComment--
		return &registry.TrackerError{Tracker: m.name, Op: "comment " + key, Retryable: true, Status: 502, Err: fmt.Errorf("bad gateway")}
	}
	m.comments[key] = append(m.comments[key], body)
	m.writes++
	return nil
}

// person simulates someone working in the tracker.
func (m *memTracker) person(key string, fn func(e *memEpic)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.epics[key]
	before := e.state
	fn(e)
	if e.state != before {
		e.closedByUs = false // whatever the person did, it is not risksync's close
	}
	e.dirty = true
}

func (m *memTracker) epicsOf(risk string) []*memEpic {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*memEpic
	for _, e := range m.epics {
		if e.risk == risk {
			out = append(out, e)
		}
	}
	return out
}
