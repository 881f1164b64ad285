package riskfile

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/registry"
)

// FuzzParse feeds Parse arbitrary CSV and JSON. It must never panic; an
// error must be an EINVALID *registry.Error whose every problem has a
// location; and whatever it accepts must survive Write and Parse again
// with the same values (the export → import promise), formulas included.
func FuzzParse(f *testing.F) {
	if sample, err := os.ReadFile("../../examples/risks.csv"); err == nil {
		f.Add(sample, false)
	}
	f.Add([]byte("key,title,impact,scope,likelihood,owner\nRISK-1,a,4 — x,high,2 - y,@team\n"), false)
	f.Add([]byte("Risk,Description,ETTD Minutes\n=cmd|' /C calc'!A0,\"multi\nline\",30\n'+x,'-y,1e3\n"), false)
	f.Add([]byte("title,status,status_reason,accepted_until,last_reviewed\n\ufeffx,accepted,why,2026-09-30,2026-03-01T10:00:00Z\n"), false)
	f.Add([]byte("title,impact\n\"a,1\n"), false)
	f.Add([]byte(",,\n,,\n"), false)
	f.Add([]byte(`[{"title":"a","impact":4,"scope":"5 — all","ettf_days":0.5,"owner":null},{"key":"risk-9","title":"\r=x"}]`), true)
	f.Add([]byte(`[{"title":"a","impact":4.5,"colour":1},7,[],{"title":{"x":1}}]`), true)
	f.Add([]byte(`[{"title":"'''-x","description":"\r\n","ettd_minutes":-0}]`), true)
	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		format := CSV
		if asJSON {
			format = JSON
		}
		rows, err := Parse(bytes.NewReader(data), format)
		if err != nil {
			e, ok := err.(*registry.Error)
			if !ok || e.Code != registry.EINVALID {
				t.Fatalf("error %v (%T) is not an EINVALID registry error", err, err)
			}
			for _, fe := range e.Fields {
				if fe.Location == "" || fe.Message == "" {
					t.Fatalf("problem without location or message: %+v", fe)
				}
			}
			return
		}
		risks := make([]*registry.Risk, len(rows))
		for i, r := range rows {
			if r.Line < 1 || !r.Title.Set || strings.TrimSpace(*r.Title.Value) == "" {
				t.Fatalf("row %d: line %d, title %+v", i, r.Line, r.Title)
			}
			for _, v := range []*int{r.Impact.Value, r.Scope.Value, r.Likelihood.Value} {
				if v != nil && (*v < 1 || *v > 5) {
					t.Fatalf("row %d: rating %d", i, *v)
				}
			}
			risks[i] = rowRisk(r)
		}
		for _, out := range []string{CSV, JSON} {
			var b bytes.Buffer
			if err := Write(&b, out, risks); err != nil {
				t.Fatal(err)
			}
			again, err := Parse(&b, out)
			if err != nil {
				t.Fatalf("%s output does not parse: %v\n%s", out, err, b.String())
			}
			if len(again) != len(rows) {
				t.Fatalf("%s: %d rows back, want %d", out, len(again), len(rows))
			}
			for i := range rows {
				// A CSV reader turns CRLF in a quoted cell into LF; import
				// compares descriptions the same way.
				want, got := fmt.Sprintf("%q", cells(risks[i])), fmt.Sprintf("%q", cells(rowRisk(again[i])))
				if crlf(want) != crlf(got) {
					t.Fatalf("%s round trip of row %d:\n got %s\nwant %s", out, i, got, want)
				}
			}
		}
	})
}

func crlf(s string) string { return strings.ReplaceAll(s, `\r\n`, `\n`) }
