package sync

import (
	"context"
	"fmt"
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
}

func newMemTracker(name string) *memTracker {
	return &memTracker{name: name, epics: map[string]*memEpic{}, comments: map[string][]string{}, failEnsure: map[string]error{}}
}

func (m *memTracker) keyFor(target string) string {
	m.next++
	if m.name == registry.TrackerJira {
		return fmt.Sprintf("%s-%d", target, m.next)
	}
	return fmt.Sprintf("%s#%d", target, m.next)
}

func (m *memTracker) StartPass(context.Context) error { return nil }

func (m *memTracker) find(target, risk string) *memEpic {
	for _, e := range m.epics {
		if e.target == target && e.risk == risk && m.calls-e.createdCall >= m.searchLag {
			return e
		}
	}
	return nil
}

func (m *memTracker) EnsureEpic(_ context.Context, spec EpicSpec, dryRun bool) (EpicResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if err := m.failEnsure[spec.Risk.Key]; err != nil {
		return EpicResult{}, err
	}
	band := "unscored"
	if spec.Band != nil {
		band = spec.Band.Name
	}
	title := "[" + spec.Risk.Key + "] " + spec.Risk.Title
	e := m.find(spec.Target, spec.Risk.Key)
	if e == nil {
		w := Write{Kind: "create", Target: spec.Target, Fields: map[string][2]string{"title": {"", title}, "band": {"", band}}}
		if dryRun {
			return EpicResult{Writes: []Write{w}}, nil
		}
		e = &memEpic{key: m.keyFor(spec.Target), target: spec.Target, risk: spec.Risk.Key, title: title, band: band, owner: spec.Risk.Owner,
			state: registry.LinkOpen, createdCall: m.calls, dirty: true}
		m.epics[e.key] = e
		m.writes++
		if m.failCreate > 0 {
			m.failCreate--
			return EpicResult{Writes: []Write{w}}, &registry.TrackerError{Tracker: m.name, Op: "create", Retryable: true, Err: fmt.Errorf("connection reset after sending")}
		}
		return EpicResult{Link: m.link(e), Writes: []Write{w}}, nil
	}
	var res EpicResult
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
		res.Writes = append(res.Writes, Write{Kind: "update", Target: e.key, Fields: fields})
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

func (m *memTracker) CloseEpic(_ context.Context, key, comment string, dryRun bool) ([]Write, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := []Write{{Kind: "close", Target: key}, {Kind: "comment", Target: key}}
	if dryRun {
		return w, nil
	}
	e := m.epics[key]
	e.state, e.dirty = registry.LinkNotPlanned, true
	m.comments[key] = append(m.comments[key], comment)
	m.writes += 2
	return w, nil
}

func (m *memTracker) ReopenEpic(_ context.Context, key, comment string, dryRun bool) ([]Write, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := []Write{{Kind: "reopen", Target: key}}
	if dryRun {
		return w, nil
	}
	e := m.epics[key]
	e.state, e.dirty = registry.LinkOpen, true
	m.comments[key] = append(m.comments[key], comment)
	m.writes += 2
	return w, nil
}

func (m *memTracker) PullBack(_ context.Context, target string) ([]EpicState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []EpicState
	for _, e := range m.epics {
		if e.target == target && e.dirty {
			e.dirty = false
			out = append(out, EpicState{RiskKey: e.risk, Link: m.link(e)})
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
	fn(m.epics[key])
	m.epics[key].dirty = true
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
