package postmortem

import "strings"

// MatchOwner matches an Owner cell to a team with match, typically
// registry.Routing.MatchTeam or config.Config.MatchTeam (name or alias,
// ignoring case; nil for no team):
//
//	team := postmortem.MatchOwner(t.Owner, routing.MatchTeam)
//
// Besides the cell as written it tries the forms authors use around a team
// name: Markdown emphasis ("**Storage SRE**"), a trailing note
// ("Storage SRE (Alice)", "Storage SRE - on-call") and a GitHub team mention
// ("@acme/storage-sre"). It returns nil when no form names a team.
func MatchOwner[T any](cell string, match func(string) *T) *T {
	for _, c := range ownerCandidates(cell) {
		if t := match(c); t != nil {
			return t
		}
	}
	return nil
}

// ownerCandidates lists the forms of cell to try, most literal first.
func ownerCandidates(cell string) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		for _, o := range out {
			if o == s {
				return
			}
		}
		if s != "" {
			out = append(out, s)
		}
	}
	plain := strings.TrimSpace(cell)
	add(plain)
	plain = strings.Trim(plain, "*_` ")
	add(plain)
	head := plain
	for _, sep := range []string{" (", " — ", " – ", " - ", ","} {
		if i := strings.Index(head, sep); i > 0 {
			head = strings.Trim(head[:i], "*_` ")
		}
	}
	add(head)
	for _, s := range []string{plain, head} {
		if m, ok := strings.CutPrefix(s, "@"); ok {
			add(m[strings.LastIndexByte(m, '/')+1:])
		}
	}
	return out
}
