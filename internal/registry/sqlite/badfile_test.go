package sqlite_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/risksync/risksync/internal/registry"
	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/registry/sqlite"
)

func TestCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "risksync.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is a spreadsheet, not a database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), path, registry.StoreOptions{})
	if err == nil || !strings.Contains(err.Error(), path+" is not a usable SQLite database") {
		t.Fatalf("error %v", err)
	}
}

func TestDirectoryInsteadOfFile(t *testing.T) {
	dir := t.TempDir()
	_, err := sqlite.Open(context.Background(), dir, registry.StoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "is a directory, not a database file") {
		t.Fatalf("error %v", err)
	}
	_, err = sqlite.Open(context.Background(), filepath.Join(dir, "missing", "r.db"), registry.StoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("error %v", err)
	}
}

// A read-only database must fail at open with a message saying so. Root
// ignores file modes, so as root the file is put on a read-only mount.
func TestReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		dir = filepath.Join(dir, "ro")
		os.Mkdir(dir, 0o755)
		if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", dir).CombinedOutput(); err != nil {
			t.Skipf("running as root without permission to mount a read-only tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", dir).Run() })
	}
	path := filepath.Join(dir, "risksync.db")
	db, err := sqlite.Open(context.Background(), path, registrytest.DefaultOptions(registrytest.NewClock()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateRisk(context.Background(), registrytest.NewRisk("kept", 1, 1, 1), "alice"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v %s", err, out)
		}
	} else {
		os.Chmod(path, 0o444)
		os.Chmod(dir, 0o555)
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	_, err = sqlite.Open(context.Background(), path, registry.StoreOptions{})
	if err == nil || !strings.Contains(err.Error(), "is read-only: risksync needs to write the database file and its directory") {
		t.Fatalf("error %v", err)
	}
}
