package postgres_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/postgres"
	"github.com/risksync/risksync/internal/registry/registrytest"
)

func TestConformance(t *testing.T) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		t.Skipf("%s is not set; CI sets it and then a failure to connect fails this test", registrytest.PostgresEnv)
	}
	registrytest.RunConformance(t, registrytest.Backends()["postgres"])
	registrytest.RunReportConformance(t, registrytest.Backends()["postgres"])
	registrytest.RunSyncConformance(t, registrytest.Backends()["postgres"])
	registrytest.RunTokenConformance(t, registrytest.Backends()["postgres"])
	registrytest.RunSessionConformance(t, registrytest.Backends()["postgres"])
}

func BenchmarkStore(b *testing.B) {
	if os.Getenv(registrytest.PostgresEnv) == "" {
		b.Skipf("%s is not set", registrytest.PostgresEnv)
	}
	registrytest.RunBenchmarks(b, registrytest.Backends()["postgres"])
}

// silentServer accepts TCP connections and never answers, like a hung
// server or a firewall that lets the handshake through.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func TestUnreachableServerFailsInTime(t *testing.T) {
	for name, tc := range map[string]struct {
		query  string
		within time.Duration
	}{
		"default 10s":          {"sslmode=disable", postgres.ConnectTimeout + 2*time.Second},
		"connect_timeout wins": {"sslmode=disable&connect_timeout=1", 3 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := silentServer(t)
			start := time.Now()
			_, err := postgres.Open(context.Background(), "postgres://risk:hunter2@"+addr+"/registry?"+tc.query, registry.StoreOptions{})
			took := time.Since(start)
			if err == nil || took > tc.within {
				t.Fatalf("err %v after %v; want a failure within %v", err, took, tc.within)
			}
			if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q must name %s and hide the password", err, addr)
			}
			if registry.ErrorCode(err) != registry.EUNAVAILABLE {
				t.Fatalf("code %s", registry.ErrorCode(err))
			}
		})
	}
}
