package command

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		verb    string
		key     string
		text    string
		err     string
		ignored int
	}{
		{in: "looks fine to me", ok: false},
		{in: "> /risk review", ok: false},
		{in: "```\n/risk review\n```", ok: false},
		{in: "    /risk review", ok: false},
		{in: "/risky business", ok: false},
		{in: "/risk review", ok: true, verb: Review},
		{in: "\n  /risk review  looked at  it\nmore", ok: true, verb: Review, text: "looked at  it"},
		{in: "/risk RISK-7 review ok", ok: true, verb: Review, key: "RISK-7", text: "ok"},
		{in: "/risk rate impact=high likelihood=5", ok: true, verb: Rate},
		{in: "/risk rate impact=huge", ok: true, verb: Rate, err: "not a rating"},
		{in: "/risk rate color=3", ok: true, verb: Rate, err: "unknown rating"},
		{in: "/risk rate", ok: true, verb: Rate, err: "at least one"},
		{in: "/risk owner sre", ok: true, verb: Owner},
		{in: "/risk owner", ok: true, verb: Owner, err: "one team"},
		{in: "/risk accept until=2027-01-31 cost too high", ok: true, verb: Accept, text: "cost too high"},
		{in: "/risk RISK-3 accept until=2027-01-31 cost too high", ok: true, verb: Accept, key: "RISK-3", text: "cost too high"},
		{in: "/risk accept until=soon x", ok: true, verb: Accept, err: "not a date"},
		{in: "/risk retire gone", ok: true, verb: Retire, text: "gone"},
		{in: "/risk activate\n/risk retire x", ok: true, verb: Activate, ignored: 1},
		{in: "/risk frobnicate", ok: true, verb: "frobnicate", err: "unknown sub-command"},
		{in: "/risk", ok: true, err: "no sub-command"},
		{in: "/risk review " + strings.Repeat("x", 100<<10), ok: true, verb: "", err: "bytes long"},
	} {
		c, ok, err := Parse(tc.in)
		if ok != tc.ok {
			t.Errorf("%q: ok = %v", tc.in, ok)
			continue
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if c.Verb != tc.verb || c.Key != tc.key || c.Text != tc.text || c.Ignored != tc.ignored {
			t.Errorf("%q: got %+v", tc.in, c)
		}
	}
	c, _, _ := Parse("/risk rate impact=high likelihood=5 scope=1")
	if *c.Impact != 4 || *c.Likelihood != 5 || *c.Scope != 1 {
		t.Errorf("ratings %+v", c)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"/risk review", "/risk RISK-7 rate impact=9 scope=low", "/risk accept until=2027-01-01 why",
		"/risk owner a\n/risk retire b", "> /risk x", "/risk \t retire", "/risk RISK-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok, err := Parse(s)
		if !ok && (err != nil || c.Verb != "") {
			t.Fatalf("not a command, yet %+v %v", c, err)
		}
		if ok && err == nil {
			switch c.Verb {
			case Review, Rate, Owner, Accept, Retire, Activate:
			default:
				t.Fatalf("verb %q accepted", c.Verb)
			}
			if len(c.Text) > MaxLine || (utf8.ValidString(s) && !utf8.ValidString(c.Text)) {
				t.Fatalf("text %q", c.Text)
			}
		}
	})
}
