package stacktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A run removes the binaries of test processes that have ended and keeps
// its own and those of processes still running.
func TestBinariesDirClearsEndedProcesses(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	parent := filepath.Join(os.TempDir(), "estatepay-bin")
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(parent, strconv.Itoa(ended.Process.Pid)+"-123")
	alive := filepath.Join(parent, "1-456") // init is always running
	other := filepath.Join(parent, "not-a-pid")
	for _, d := range []string{gone, alive, other} {
		if err := os.MkdirAll(filepath.Join(d, "Fn"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := binariesDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != parent {
		t.Fatalf("dir %s not under %s", dir, parent)
	}
	for d, want := range map[string]bool{gone: false, alive: true, other: true, dir: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", d, err == nil, want)
		}
	}
}
