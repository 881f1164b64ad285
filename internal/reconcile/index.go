package reconcile

import (
	"fmt"

	"github.com/risksync/risksync/internal/registry"
)

// index holds the pass's view of the registry, kept current as the pass writes.
type index struct {
	byKey    map[string]*registry.Risk
	bySource map[string]*registry.Risk
	byLink   map[string]*registry.Risk
	byTitle  map[string]*registry.Risk
	order    []string // keys, ranked
}

func newIndex(risks []*registry.Risk) *index {
	ix := &index{byKey: map[string]*registry.Risk{}, bySource: map[string]*registry.Risk{}, byLink: map[string]*registry.Risk{}, byTitle: map[string]*registry.Risk{}}
	for _, r := range risks {
		ix.put(r)
	}
	return ix
}

func (ix *index) put(r *registry.Risk) {
	if _, ok := ix.byKey[r.Key]; !ok {
		ix.order = append(ix.order, r.Key)
	}
	ix.byKey[r.Key] = r
	for _, s := range r.Sources {
		ix.bySource[sourceID(s.Tracker, s.Key, s.Position)] = r
	}
	for _, l := range r.Links {
		ix.byLink[l.Tracker+" "+l.Key] = r
	}
	if t := normalizeTitle(r.Title); ix.byTitle[t] == nil {
		ix.byTitle[t] = r
	}
}

func sourceID(tracker, key string, pos int) string { return fmt.Sprintf("%s %s %d", tracker, key, pos) }

// normalizeTitle compares failure modes the way people retype them; import
// compares titles the same way.
func normalizeTitle(s string) string { return registry.NormalizeTitle(s) }
