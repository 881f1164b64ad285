package sqlite_test

import (
	"testing"

	"github.com/risksync/risksync/internal/registry/registrytest"
)

func TestConformance(t *testing.T) {
	registrytest.RunConformance(t, registrytest.Backends()["sqlite"])
	registrytest.RunReportConformance(t, registrytest.Backends()["sqlite"])
	registrytest.RunSyncConformance(t, registrytest.Backends()["sqlite"])
	registrytest.RunTokenConformance(t, registrytest.Backends()["sqlite"])
	registrytest.RunSessionConformance(t, registrytest.Backends()["sqlite"])
}

func BenchmarkStore(b *testing.B) {
	registrytest.RunBenchmarks(b, registrytest.Backends()["sqlite"])
}
