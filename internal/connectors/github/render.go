package github

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/scoring"
)

// Labels risksync owns besides the bands' priority labels and team:*.
const (
	labelRisk     = "risk"
	labelUnscored = "risk:unscored"
	teamPrefix    = "team:"
	teamUnowned   = "team:unowned"
)

var (
	markerRe = regexp.MustCompile(`<!-- risksync:(RISK-[1-9][0-9]*) -->`)
	titleRe  = regexp.MustCompile(`^\[(RISK-[1-9][0-9]*)\]`)
	stateRe  = regexp.MustCompile(`(?m)^<!-- risksync-state: ([^>]*) -->\n?`)
)

func marker(key string) string { return "<!-- risksync:" + key + " -->" }

// riskKeyOf finds the risk an issue mirrors: its marker, else a
// "[RISK-n]" title (a person may have deleted the marker).
func riskKeyOf(title, body string) string {
	if m := markerRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	if m := titleRe.FindStringSubmatch(title); m != nil {
		return m[1]
	}
	return ""
}

// desired is what an epic should look like.
type desired struct {
	key    string
	title  string
	body   string   // includes the state line
	labels []string // owned labels, sorted
	typ    string   // issue type, "" when the organisation has none
	hashes map[string]string
}

// bandNamed returns the configured band called name; nil for "" (unscored).
func (c *Client) bandNamed(name string) (*scoring.Band, error) {
	if name == "" {
		return nil, nil
	}
	for i := range c.bands {
		if strings.EqualFold(c.bands[i].Name, name) {
			return &c.bands[i], nil
		}
	}
	return nil, registry.Errorf(registry.EINVALID, "band %q is not among the bands configured for GitHub", name)
}

// render builds the desired epic of spec; band is spec.Band's (nil: unscored).
func (c *Client) render(spec registry.EpicSpec, band *scoring.Band, typ string) desired {
	r := spec.Risk
	d := desired{key: r.Key, title: clip(fmt.Sprintf("[%s] %s", r.Key, oneLine(r.Title)), maxTitleRunes), typ: typ}
	d.labels = c.wantLabels(r, band)

	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", marker(r.Key))
	fmt.Fprintf(&b, "> [!NOTE]\n> This epic is managed by **risksync** and mirrors **%s** from the SRE risk registry. "+
		"risksync overwrites its title, this description, the labels `risk`, the priority label, `team:*` and the issue type "+
		"on every sync: change them in the registry (`risksync risk update %s`), not here. "+
		"Track the mitigation work as sub-issues of this epic.\n\n", r.Key, r.Key)
	b.WriteString("| Field | Value |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, cell(v)) }
	row("Risk", r.Title)
	row("Impact", rating(r.Impact))
	row("Scope", rating(r.Scope))
	row("Likelihood", rating(r.Likelihood))
	score := "unscored"
	if r.Score != nil {
		score = scoring.FormatScore(*r.Score)
		if band != nil {
			score += " (" + band.Name + ")"
		}
	}
	row("Score", score)
	owner := r.Owner
	if owner == "" {
		owner = "unowned"
	}
	row("Owner", owner)
	status := string(r.Status)
	if status == "" {
		status = string(registry.StatusActive)
	}
	row("Status", status)
	reviewed := "never"
	if r.LastReviewedAt != nil {
		reviewed = r.LastReviewedAt.UTC().Format("2006-01-02")
	}
	row("Last Reviewed", reviewed)
	if spec.Explanation != "" {
		fmt.Fprintf(&b, "\n**Score:** %s\n", oneLine(spec.Explanation))
	}
	if desc := strings.TrimSpace(normalize(r.Description)); desc != "" {
		if room := maxBodyRunes - utf8.RuneCountInString(b.String()) - 400; utf8.RuneCountInString(desc) > room {
			desc = clip(desc, max(room, 0)) + "\n\n_(truncated: the full description is in the registry)_"
		}
		fmt.Fprintf(&b, "\n### Description\n\n%s\n", desc)
	}
	content := b.String()
	d.hashes = map[string]string{"title": hash(d.title), "body": hash(canonContent(content)), "labels": labelsHash(d.labels), "type": hash(d.typ)}
	d.body = content + "\n" + stateLine(d.hashes) + "\n"
	return d
}

func (c *Client) wantLabels(r *registry.Risk, band *scoring.Band) []string {
	out := []string{labelRisk}
	if band != nil && band.GitHubLabel != "" {
		out = append(out, band.GitHubLabel)
	} else if band == nil {
		out = append(out, labelUnscored)
	}
	if r.Owner == "" {
		out = append(out, teamUnowned)
	} else {
		out = append(out, teamPrefix+r.Owner)
	}
	slices.Sort(out)
	return out
}

// owned reports whether risksync manages a label (it removes stale ones).
func (c *Client) owned(label string) bool {
	l := strings.ToLower(label)
	return c.ownLabels[l] || strings.HasPrefix(l, teamPrefix)
}

// ownedOf returns the owned labels among names, sorted.
func (c *Client) ownedOf(names []string) []string {
	var out []string
	for _, n := range names {
		if c.owned(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// labelColor gives each band its own colour, hottest first.
func (c *Client) labelColor(name string) string {
	palette := []string{"b60205", "d93f0b", "fbca04", "0e8a16", "1d76db", "5319e7"}
	for i, b := range c.bands {
		if strings.EqualFold(b.GitHubLabel, name) {
			return palette[min(i, len(palette)-1)]
		}
	}
	switch l := strings.ToLower(name); {
	case l == labelRisk:
		return "5319e7"
	case l == labelUnscored:
		return "c5def5"
	case strings.HasPrefix(l, teamPrefix):
		return "bfdadc"
	}
	return "ededed"
}

func stateLine(h map[string]string) string {
	return fmt.Sprintf("<!-- risksync-state: v1 title=%s body=%s labels=%s type=%s -->", h["title"], h["body"], h["labels"], h["type"])
}

// actual is what an epic looks like now, hashed like desired.
type actual struct {
	hashes map[string]string
	stored map[string]string // hashes of risksync's last write, nil when absent
}

func (c *Client) observe(title, body string, labels []string, typ string) actual {
	body = normalize(body)
	var stored map[string]string
	if m := stateRe.FindStringSubmatch(body); m != nil {
		stored = map[string]string{}
		for _, f := range strings.Fields(m[1]) {
			if k, v, ok := strings.Cut(f, "="); ok {
				stored[k] = v
			}
		}
	}
	return actual{stored: stored, hashes: map[string]string{"title": hash(title), "body": hash(canonContent(body)),
		"labels": labelsHash(c.ownedOf(labels)), "type": hash(typ)}}
}

// canonContent is a body without risksync's state line, line endings and
// trailing blank lines normalised.
func canonContent(body string) string {
	return strings.TrimRight(stateRe.ReplaceAllString(normalize(body), ""), "\n \t") + "\n"
}

// labelsHash ignores case: GitHub matches label names case-insensitively,
// so a label renamed "Risk" must not cause a write on every pass.
func labelsHash(labels []string) string {
	l := make([]string, len(labels))
	for i, s := range labels {
		l[i] = strings.ToLower(s)
	}
	slices.Sort(l)
	return hash(strings.Join(l, "\n"))
}

// GitHub's limits: longer titles and bodies are refused with 422.
const (
	maxTitleRunes = 256
	maxBodyRunes  = 65536
)

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n < 1 {
		return ""
	}
	return string(r[:n-1]) + "…"
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// normalize undoes what the web editor does to line endings.
func normalize(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", `\|`) }

func rating(p *int) string {
	if p == nil {
		return "not rated"
	}
	return fmt.Sprint(*p)
}
