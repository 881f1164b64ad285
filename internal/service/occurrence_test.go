package service

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
)

// Occurrences come from the sources, one per postmortem, and the window
// count moves with the clock.
func TestViewOccurrences(t *testing.T) {
	eachBackend(t, func(t *testing.T, e env) {
		r, err := e.svc.store.CreateRisk(e.ctx, &registry.Risk{Title: "backups degrade",
			Sources: []registry.Source{{Tracker: "github", Key: "acme/inc#1", URL: "https://x/1"}}}, registry.ActorIntake)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(30 * 24 * time.Hour)
		for pos := range 2 { // two tables of one postmortem: one incident
			if r, err = e.svc.store.UpdateRisk(e.ctx, r.Key, registry.ActorIntake, func(x *registry.Risk) error {
				x.Sources = append(x.Sources, registry.Source{Tracker: "github", Key: "acme/inc#2", Position: pos, Recurrence: true})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		v := e.svc.View(r, nil)
		if len(v.Occurrences) != 2 || v.Recurrences90d != 2 || v.Occurrences[0].Source.Key != "acme/inc#1" || !v.Occurrences[1].Source.Recurrence {
			t.Fatalf("view %+v %d", v.Occurrences, v.Recurrences90d)
		}
		e.clock.Advance(60 * 24 * time.Hour) // the first is exactly 90 days old: out
		if v := e.svc.View(r, nil); v.Recurrences90d != 1 {
			t.Fatalf("recurrences_90d %d", v.Recurrences90d)
		}
		b, _ := json.Marshal(e.svc.View(r, nil))
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if _, ok := m["occurrences"].([]any); !ok || m["recurrences_90d"] != 1.0 {
			t.Fatalf("json %s", b)
		}
	})
}
