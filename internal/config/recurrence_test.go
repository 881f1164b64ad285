package config_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/config"
	"github.com/risksync/risksync/internal/scoring"
)

func TestRecurrenceDefaultsAndRaise(t *testing.T) {
	cfg, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ScoringConfig().Recurrence; !reflect.DeepEqual(got, scoring.DefaultRecurrence()) {
		t.Fatalf("default recurrence %+v", got)
	}
	cfg, err = config.Parse([]byte("scoring:\n  recurrence: {window: 30d, mode: raise, likelihood: [{min: 3, rating: 5}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := scoring.Recurrence{Window: 30 * 24 * time.Hour, Mode: scoring.RecurrenceRaise, Steps: []scoring.RecurrenceStep{{Min: 3, Rating: 5}}}
	if got := cfg.ScoringConfig().Recurrence; !reflect.DeepEqual(got, want) {
		t.Fatalf("recurrence %+v, want %+v", got, want)
	}
	if _, err := config.Parse([]byte("scoring:\n  recurrence: {mode: off, likelihood: []}\n")); err != nil {
		t.Fatalf("off needs no steps: %v", err)
	}
}
