package jira_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/risksync/risksync/internal/connectors/jira"
	"github.com/risksync/risksync/internal/registry"
)

func FuzzCheckSignature(f *testing.F) {
	f.Add([]byte("secret"), []byte(`{"webhookEvent":"jira:issue_updated"}`), "")
	f.Add([]byte("s"), []byte{}, "sha256=00")
	f.Add([]byte(""), []byte("x"), "sha256=zz")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		m := hmac.New(sha256.New, secret)
		m.Write(body)
		good := "sha256=" + hex.EncodeToString(m.Sum(nil))
		if !jira.CheckSignature(secret, body, good) {
			t.Fatal("valid signature rejected")
		}
		if header != good && strings.TrimSpace(header) != good && jira.CheckSignature(secret, body, header) {
			// Hex is case-insensitive; anything else must fail.
			if !strings.EqualFold(strings.TrimSpace(header), good) {
				t.Fatalf("accepted %q", header)
			}
		}
		if jira.CheckSignature(secret, append(append([]byte{}, body...), 'x'), good) {
			t.Fatal("signature of another body accepted")
		}
	})
}

func checkTextLines(t *testing.T, out string) {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasSuffix(l, " |") {
			t.Fatalf("table line not closed: %q", l)
		}
	}
}

func FuzzWikiToText(f *testing.F) {
	f.Add(wikiPostmortem)
	f.Add("||a||b||\n|x|y|")
	f.Add(`|\|[x|{y|}]|`)
	f.Add("|*Risk*|_x_|\n\\")
	f.Fuzz(func(t *testing.T, s string) {
		out := jira.WikiToText(s)
		if got, want := strings.Count(out, "\n"), strings.Count(strings.ReplaceAll(s, "\r\n", "\n"), "\n"); got < want {
			t.Fatalf("lost lines: %d < %d", got, want)
		}
		checkTextLines(t, out)
	})
}

func FuzzADFToText(f *testing.F) {
	f.Add([]byte(`{"type":"doc","content":[{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"Risk"}]}]}]}]}]}`))
	f.Add([]byte(`{"type":"doc","content":[null,{"type":"bulletList","content":[{"type":"listItem"}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := jira.ADFToText(b)
		if err != nil {
			return
		}
		checkTextLines(t, out)
		_ = jira.DescriptionText(string(b))
	})
}

// What risksync renders, its own parser reads back: the title survives
// escaping in the Risk row whatever characters it holds.
func FuzzRenderedTableRoundTrip(f *testing.F) {
	f.Add("Orphaned snapshots")
	f.Add("a | b [c] {d} *e* _f_ \\g")
	f.Add("*bold*")
	f.Fuzz(func(t *testing.T, title string) {
		if strings.ContainsAny(title, "\r\n") || strings.TrimSpace(title) == "" || !utf8.ValidString(title) {
			return
		}
		r := &registry.Risk{Key: "RISK-1", Title: title}
		desc := jira.RenderDescription(registry.EpicSpec{Risk: r})
		text := jira.WikiToText(desc)
		want := "| Risk | " + strings.ReplaceAll(strings.Join(strings.Fields(title), " "), "|", `\|`) + " |"
		if !strings.Contains(text, want+"\n") {
			t.Fatalf("title %q: want line %q in\n%s", title, want, text)
		}
	})
}
