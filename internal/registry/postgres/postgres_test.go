package postgres_test

import (
	"os"
	"testing"

	"github.com/risksync/risksync/internal/registry/registrytest"
)

func TestConformance(t *testing.T) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		t.Skipf("%s is not set; CI sets it and then a failure to connect fails this test", registrytest.PostgresEnv)
	}
	registrytest.RunConformance(t, registrytest.Backends()["postgres"])
	registrytest.RunReportConformance(t, registrytest.Backends()["postgres"])
	registrytest.RunSyncConformance(t, registrytest.Backends()["postgres"])
}

func BenchmarkStore(b *testing.B) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		b.Skipf("%s is not set", registrytest.PostgresEnv)
	}
	registrytest.RunBenchmarks(b, registrytest.Backends()["postgres"])
}
