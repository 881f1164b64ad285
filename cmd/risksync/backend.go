package main

import (
	"bytes"
	"context"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/report"
	"github.com/risksync/risksync/internal/riskfile"
	"github.com/risksync/risksync/internal/service"
)

// riskBackend is what the risk commands need from the registry: the
// service in direct mode, the HTTP API with --server. Both answer with the
// same views, so output, JSON and exit codes are the same.
type riskBackend interface {
	list(ctx context.Context, q service.Query) ([]service.RiskView, error)
	get(ctx context.Context, key string, historyLimit int) (service.RiskView, error)
	create(ctx context.Context, c service.Change) (service.RiskView, error)
	update(ctx context.Context, key string, c service.Change) (service.RiskView, error)
	review(ctx context.Context, key, note string) (service.RiskView, error)
	// importFile applies a .csv, .json or .yaml file all or nothing.
	importFile(ctx context.Context, data []byte, format string, dryRun bool) (service.ImportResult, error)
	// export returns every risk, ranked, for riskfile.Write.
	export(ctx context.Context) ([]*registry.Risk, error)
}

// localBackend calls the service on the database (direct mode).
type localBackend struct {
	svc *service.Service
	who registry.Principal
}

func (b localBackend) list(ctx context.Context, q service.Query) ([]service.RiskView, error) {
	var out []service.RiskView
	for {
		risks, next, err := b.svc.List(ctx, b.who, q)
		if err != nil {
			return nil, err
		}
		for _, r := range risks {
			out = append(out, b.svc.View(r, nil))
		}
		if next == "" || q.Limit > 0 {
			if out == nil {
				out = []service.RiskView{}
			}
			return out, nil
		}
		q.Cursor = next
	}
}

func (b localBackend) get(ctx context.Context, key string, historyLimit int) (service.RiskView, error) {
	r, h, err := b.svc.Get(ctx, b.who, key, historyLimit)
	if err != nil {
		return service.RiskView{}, err
	}
	return b.svc.View(r, h), nil
}

func (b localBackend) create(ctx context.Context, c service.Change) (service.RiskView, error) {
	return b.view(b.svc.Create(ctx, b.who, c))
}

func (b localBackend) update(ctx context.Context, key string, c service.Change) (service.RiskView, error) {
	return b.view(b.svc.Update(ctx, b.who, key, c, 0))
}

func (b localBackend) review(ctx context.Context, key, note string) (service.RiskView, error) {
	return b.view(b.svc.Review(ctx, b.who, key, note))
}

func (b localBackend) importFile(ctx context.Context, data []byte, format string, dryRun bool) (service.ImportResult, error) {
	rows, err := riskfile.Parse(bytes.NewReader(data), format)
	if err != nil {
		return service.ImportResult{}, err
	}
	return b.svc.Import(ctx, b.who, rows, dryRun)
}

func (b localBackend) export(ctx context.Context) ([]*registry.Risk, error) {
	return b.svc.Export(ctx, b.who)
}

func (b localBackend) view(r *registry.Risk, err error) (service.RiskView, error) {
	if err != nil {
		return service.RiskView{}, err
	}
	return b.svc.View(r, nil), nil
}

// newService builds the service layer on s (nil for rules that need no
// database, such as resolving a team name).
func (m *Main) newService(s *openedStore) *service.Service {
	opts := service.Options{Routing: m.cfg.Routing(), Scoring: m.cfg.ScoringConfig(), StagnantAfter: m.cfg.Stagnation.After.Std(), Now: m.Now}
	if s != nil {
		opts.Store = s
		opts.Reports = func(ctx context.Context, o report.Options) (*report.Report, error) {
			return report.Generate(ctx, m.reportDeps(s), m.Now(), o)
		}
	}
	return service.New(opts)
}

// localPrincipal is who the CLI acts as in direct mode: whoever holds the
// database credentials may do anything, recorded under their login name.
func (m *Main) localPrincipal() registry.Principal {
	return registry.Principal{Actor: m.actor(), Role: registry.RoleAdmin}
}
