package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
)

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(fds)
}

// A start that fails (here: an unreadable sqs.json) must neither overwrite
// the state it could not load nor leave its listeners open.
func TestFailedStartKeepsStateAndClosesListeners(t *testing.T) {
	dir := t.TempDir()
	corrupt := []byte("{not json")
	if err := os.WriteFile(filepath.Join(dir, "sqs.json"), corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Root: filepath.Join("testdata", "fixture"), StateDir: dir,
		Log: &logBuffer{}, NoSchedules: true, SnapshotEvery: time.Hour})
	if err == nil {
		s.Close()
		t.Fatal("Start with a corrupt sqs.json succeeded")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sqs.json")); string(got) != string(corrupt) {
		t.Errorf("failed start rewrote sqs.json: %q", got)
	}
	if after := openFDs(t); after > before {
		t.Errorf("open file descriptors %d before the failed start, %d after", before, after)
	}
}
