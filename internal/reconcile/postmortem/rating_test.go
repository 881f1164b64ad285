package postmortem

import "testing"

func TestParseRating(t *testing.T) {
	tests := []struct {
		cell string
		n    int
		expl string
		why  string
	}{
		{"1", 1, "", ""},
		{"5", 5, "", ""},
		{" 3 ", 3, "", ""},
		{"4 — writes fail", 4, "writes fail", ""},
		{"4—writes fail", 4, "writes fail", ""},
		{"4 – writes fail", 4, "writes fail", ""},
		{"4 - writes fail", 4, "writes fail", ""},
		{"4 -- writes fail", 4, "writes fail", ""},
		{"4- writes fail", 4, "writes fail", ""},
		{"4: writes fail", 4, "writes fail", ""},
		{"4 (writes fail)", 4, "writes fail", ""},
		{"4 (writes fail", 4, "writes fail", ""},
		{"4 —", 4, "", ""},
		{"4/5", 4, "", ""},
		{"4/5 — most", 4, "most", ""},
		{"**4**", 4, "", ""},
		{"**4** — bold", 4, "bold", ""},
		{"negligible", 1, "", ""},
		{"Low", 2, "", ""},
		{"MEDIUM - some", 3, "some", ""},
		{"high — data protection", 4, "data protection", ""},
		{"Critical: outage", 5, "outage", ""},
		{"_high_", 4, "", ""},
		{"", 0, "", "is empty"},
		{"**", 0, "", "is empty"},
		{"0", 0, "", "is outside 1 to 5"},
		{"6", 0, "", "is outside 1 to 5"},
		{"10", 0, "", "is outside 1 to 5"},
		{"-1", 0, "", "is not a rating"},
		{"4.5", 0, "", "is not a whole number"},
		{"4,5", 0, "", "is not a whole number"},
		{"3-4", 0, "", "is a range, not one rating"},
		{"3–4", 0, "", "is a range, not one rating"},
		{"x", 0, "", "is not a rating"},
		{"high-ish", 0, "", "is not a rating"},
		{"highly likely", 0, "", "is not a rating"},
		{"High because it hurts", 0, "", "is not a rating"},
		{"4 out of 5", 0, "", "is not a rating"},
		{"very high", 0, "", "is not a rating"},
		{"Backup operations exceed recovery objectives under load", 0, "", "is not a rating"},
		{"N/A", 0, "", "is not a rating"},
		{"high5", 0, "", "is not a rating"},
	}
	for _, tc := range tests {
		n, expl, why := ParseRating(tc.cell)
		if n != tc.n || expl != tc.expl || why != tc.why {
			t.Errorf("ParseRating(%q) = %d, %q, %q; want %d, %q, %q", tc.cell, n, expl, why, tc.n, tc.expl, tc.why)
		}
	}
}
