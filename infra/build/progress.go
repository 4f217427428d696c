package build

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ProgressEvery is how often a build with a progress writer reports.
const ProgressEvery = 5 * time.Second

// progress follows a `go build -v` (which names each package as it
// compiles it; packages from the build cache are not named) and reports it:
// what is being built, then on every tick the elapsed time and the packages
// compiled so far, then a closing line. Everything else go build writes
// (compiler errors) is kept for the error message.
type progress struct {
	out   io.Writer
	start time.Time

	mu       sync.Mutex
	partial  []byte // an unfinished line
	stderr   bytes.Buffer
	compiled int
	last     string
	total    int // packages the build may compile (go list -deps); 0 unknown
}

func newProgress(out io.Writer, start time.Time, what string, fns []string) *progress {
	fmt.Fprintf(out, "building %s: %s\n", what, strings.Join(fns, ", "))
	return &progress{out: out, start: start}
}

// Write takes go build's stderr.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		if isPackageLine(line) {
			p.compiled++
			p.last = line
			continue
		}
		p.stderr.WriteString(line + "\n")
	}
	return len(b), nil
}

// isPackageLine tells an import path (what -v prints) from compiler output
// ("# pkg" headers, "./x.go:1:2: msg", "note: …").
func isPackageLine(line string) bool {
	return line != "" && !strings.ContainsAny(line, " \t:") && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, ".")
}

func (p *progress) setTotal(n int) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

// tick prints one progress line for the time now.
func (p *progress) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	of := ""
	if p.total > 0 {
		of = fmt.Sprintf(" of at most %d", p.total)
	}
	last := ""
	if p.last != "" {
		last = " (now " + p.last + ")"
	}
	fmt.Fprintf(p.out, "  %6s  compiled %d%s packages%s\n", elapsed(now.Sub(p.start)), p.compiled, of, last)
}

// done prints the closing line.
func (p *progress) done(now time.Time, what string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		fmt.Fprintf(p.out, "building %s failed after %s\n", what, elapsed(now.Sub(p.start)))
		return
	}
	cached := ""
	if p.compiled == 0 {
		cached = ", everything else from Go's build cache"
	}
	fmt.Fprintf(p.out, "built %s in %s (%d packages compiled%s)\n", what, elapsed(now.Sub(p.start)), p.compiled, cached)
}

// errText is what go build wrote besides the package names.
func (p *progress) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.TrimSpace(p.stderr.String() + string(p.partial))
}

func elapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
