package service

import (
	"context"
	"strings"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
)

// Report is the weekly report as of now, for the whole registry or, with
// owner, one team's view (a team name or alias, or "unowned").
func (s *Service) Report(ctx context.Context, who registry.Principal, owner string) (*report.Report, error) {
	if err := s.canRead(who); err != nil {
		return nil, err
	}
	var opts report.Options
	switch o := strings.TrimSpace(owner); {
	case strings.EqualFold(o, "unowned") || strings.EqualFold(o, "none"):
		opts.Unowned = true
	case o != "":
		name, err := s.ResolveOwner(o)
		if err != nil {
			return nil, err
		}
		opts.Owner = name
	}
	if s.reports == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "the weekly report is not available here")
	}
	return s.reports(ctx, opts)
}
