package report

import (
	"testing"
	"time"
)

func TestWeekStartOf(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),  // ISO week 2026-W01 starts in 2025
		time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC),   // mid-year
		time.Date(2026, 12, 31, 9, 0, 0, 0, time.UTC), // week 53
		time.Date(2027, 1, 3, 23, 0, 0, 0, time.UTC),  // Sunday still in 2026-W53
	} {
		got, ok := weekStartOf(ISOWeek(ts))
		if !ok || !got.Equal(WeekStart(ts)) {
			t.Errorf("weekStartOf(%s) = %v, want %v", ISOWeek(ts), got, WeekStart(ts))
		}
	}
	if _, ok := weekStartOf("2026-W60"); ok {
		t.Error("accepted week 60")
	}
}
