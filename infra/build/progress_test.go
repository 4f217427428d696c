package build

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestProgressLines(t *testing.T) {
	var out bytes.Buffer
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newProgress(&out, start, "2 functions for linux/arm64", []string{"ApiFunction", "ConsumerFunction"})
	// go build -v output arrives in arbitrary chunks, interleaved with compiler output.
	for _, chunk := range []string{"internal/abi\nrunt", "ime\n# example.com/fn\n./main.go:3:15: undefined: x\n", "github.com/aws/aws-lambda-go/lambda\n"} {
		if n, err := p.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	p.tick(start.Add(5 * time.Second))
	p.setTotal(120)
	p.tick(start.Add(95 * time.Second))
	p.done(start.Add(112*time.Second+300*time.Millisecond), "2 functions for linux/arm64", nil)
	want := "building 2 functions for linux/arm64: ApiFunction, ConsumerFunction\n" +
		"      5s  compiled 3 packages (now github.com/aws/aws-lambda-go/lambda)\n" +
		"   1m35s  compiled 3 of at most 120 packages (now github.com/aws/aws-lambda-go/lambda)\n" +
		"built 2 functions for linux/arm64 in 1m52s (3 packages compiled)\n"
	if out.String() != want {
		t.Errorf("progress output:\n%s\nwant:\n%s", out.String(), want)
	}
	if got := p.errText(); got != "# example.com/fn\n./main.go:3:15: undefined: x" {
		t.Errorf("errText = %q, want the compiler output only", got)
	}
}

func TestProgressCachedAndFailed(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	p := newProgress(&out, start, "1 function for linux/amd64", []string{"F"})
	p.done(start.Add(1200*time.Millisecond), "1 function for linux/amd64", nil)
	if !strings.HasSuffix(out.String(), "built 1 function for linux/amd64 in 1.2s (0 packages compiled, everything else from Go's build cache)\n") {
		t.Errorf("cached build: %q", out.String())
	}
	out.Reset()
	p.done(start.Add(3*time.Second), "1 function for linux/amd64", errors.New("exit status 1"))
	if out.String() != "building 1 function for linux/amd64 failed after 3s\n" {
		t.Errorf("failed build: %q", out.String())
	}
}
