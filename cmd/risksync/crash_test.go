package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/connectors/github/githubtest"
)

// TestMain doubles as the risksync binary: with RISKSYNC_TEST_SUBPROCESS set,
// it runs the command line in os.Args after "--", as main would, so tests can
// SIGKILL a real process.
func TestMain(m *testing.M) {
	if os.Getenv("RISKSYNC_TEST_SUBPROCESS") == "1" {
		args := os.Args
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		main := NewMain()
		main.MinWriteInterval = time.Millisecond // the fakes need no pacing
		if off, err := time.ParseDuration(os.Getenv("RISKSYNC_TEST_NOW_OFFSET")); err == nil {
			main.Now = func() time.Time { return time.Now().Add(off) } // the fakes' clock
		}
		code := main.Run(ctx, args)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// subprocess starts this test binary as `risksync ARGS...` with the CLI's environment.
func (c *cli) subprocess(t testing.TB, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = []string{"RISKSYNC_TEST_SUBPROCESS=1", "PATH=" + os.Getenv("PATH")}
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func TestCrashSafetyUnderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a subprocess 20 times")
	}
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 10s, create_settle: 1s}\n")
	const risks = 50
	for i := 0; i < risks; i++ {
		owner := []string{"storage-sre", "payments", ""}[i%3]
		tr.ok("risk", "add", "--title", fmt.Sprintf("failure mode %d", i), "--impact", fmt.Sprint(1+i%5), "--scope", "3", "--likelihood", "2", "--owner", owner)
	}
	// Slow trackers make a full mirror span several kill windows, so kills
	// land between a create and the recording of its link.
	tr.gh.Inject(githubtest.Fault{Latency: 15 * time.Millisecond, Times: 1 << 30})
	tr.jr.SetLatency(15 * time.Millisecond)
	rng := rand.New(rand.NewPCG(7, 11))
	interrupted := 0
	for round := 0; round < 20; round++ {
		before := tr.gh.Writes() + tr.jr.Writes()
		cmd := tr.subprocess(t, "serve")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a random moment after this process's first write while work
		// remains (mid-mirror, whatever the machine's speed), else at random.
		deadline := time.Now().Add(5 * time.Second)
		for tr.gh.Writes()+tr.jr.Writes() == before && len(countEpics(tr)) < risks && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if tr.gh.Writes()+tr.jr.Writes() > before {
			interrupted++
		}
	}
	if interrupted < 3 {
		t.Fatalf("only %d of 20 rounds wrote before being killed: the test did not exercise mid-pass kills", interrupted)
	}
	// Converge once more on the subprocesses' clock, after Jira's settle time, then count.
	time.Sleep(1100 * time.Millisecond)
	tr.main = func(m *Main) { m.MinWriteInterval = time.Millisecond }
	tr.ok("sync", "--once")
	epics := countEpics(tr)
	for i := 1; i <= risks; i++ {
		key := fmt.Sprintf("RISK-%d", i)
		if epics[key] != 1 {
			t.Errorf("%s has %d epics, want exactly 1", key, epics[key])
		}
		if l := tr.linkOfMaybe(key); len(l) != 1 {
			t.Errorf("%s has %d links, want 1", key, len(l))
		}
	}
	if len(epics) != risks {
		t.Errorf("%d risks have epics, want %d", len(epics), risks)
	}
	g, j := tr.writes()
	t.Logf("after 20 SIGKILLs (%d of them mid-mirror): %d GitHub writes, %d Jira writes for %d risks", interrupted, g, j, risks)
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	tr := newTrackers(t, "server: {listen: \"127.0.0.1:0\"}\nsync: {interval: 10s}\n")
	for i := 0; i < 20; i++ {
		tr.ok("risk", "add", "--title", fmt.Sprintf("failure mode %d", i), "--impact", "3", "--scope", "3", "--likelihood", "3", "--owner", "storage-sre")
	}
	tr.gh.Inject(githubtest.Fault{Latency: 20 * time.Millisecond, Times: 1 << 30}) // a pass in flight at SIGTERM
	cmd := tr.subprocess(t, "serve")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first epic", func() bool { return tr.gh.Writes() > 0 })
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not stop within 15 s of SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	// What the interrupted pass left is finished by the next one, without duplicates.
	tr.main = func(m *Main) { m.MinWriteInterval = time.Millisecond }
	tr.ok("sync", "--once")
	for key, n := range countEpics(tr) {
		if n != 1 {
			t.Errorf("%s has %d epics", key, n)
		}
	}
}
