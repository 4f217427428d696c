// Package build compiles every function the SAM template declares into its own
// Lambda `bootstrap` (CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags=-s -w),
// for linux/arm64 when packaging and for the host when running the local stack,
// and packages them as deployable zips with a template that points at them.
package build

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/estatepay/estatepay/infra/template"
)

// Target is a platform to build for.
type Target struct{ GOOS, GOARCH string }

// Lambda is the deployment target (provided.al2023, arm64).
var Lambda = Target{"linux", "arm64"}

// Host is the machine running the local stack.
var Host = Target{runtime.GOOS, runtime.GOARCH}

// Result is one built function.
type Result struct {
	LogicalID string
	CodeURI   string
	Binary    string // path of the bootstrap
}

// Functions builds each function in t into outDir/<LogicalID>/bootstrap. root is
// the repository root (module root). All functions build in one `go build`
// invocation, so shared dependencies compile once.
func Functions(ctx context.Context, root string, t *template.Template, target Target, outDir string) ([]Result, error) {
	return FunctionsWithProgress(ctx, root, t, target, outDir, nil)
}

// FunctionsWithProgress is Functions telling report (when not nil) what it
// builds, then every ProgressEvery the elapsed time and how many packages
// it has compiled (a first build on a cold cache compiles hundreds and takes
// minutes; later ones come from Go's build cache), then how it ended.
func FunctionsWithProgress(ctx context.Context, root string, t *template.Template, target Target, outDir string, report io.Writer) ([]Result, error) {
	fns := t.Functions()
	tmp, err := os.MkdirTemp(outDir0(outDir), ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var pkgs []string
	seen := map[string]string{}
	for _, f := range fns {
		base := filepath.Base(f.CodeURI)
		if other, dup := seen[base]; dup {
			return nil, fmt.Errorf("build: %s and %s share the folder name %q", other, f.LogicalID, base)
		}
		seen[base] = f.LogicalID
		pkgs = append(pkgs, "./"+filepath.ToSlash(f.CodeURI))
	}
	if len(pkgs) == 0 {
		return nil, nil
	}
	if err := buildReporting(ctx, root, target, tmp+string(os.PathSeparator), fns, pkgs, report); err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(fns))
	for _, f := range fns {
		bin := filepath.Join(outDir, f.LogicalID, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(tmp, filepath.Base(f.CodeURI)), bin); err != nil {
			return nil, fmt.Errorf("build %s: %w", f.LogicalID, err)
		}
		results = append(results, Result{LogicalID: f.LogicalID, CodeURI: f.CodeURI, Binary: bin})
	}
	return results, nil
}

// outDir0 makes sure outDir exists and returns it (temp files live beside the
// results so the final rename never crosses file systems).
func outDir0(outDir string) string {
	_ = os.MkdirAll(outDir, 0o755)
	return outDir
}

// One builds package pkg (relative to root) into out.
func One(ctx context.Context, root, pkg string, target Target, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return goBuild(ctx, root, target, out, nil, pkg)
}

// buildReporting runs goBuild, reporting to out (if not nil) while it runs.
func buildReporting(ctx context.Context, root string, target Target, out string, fns []template.Function, pkgs []string, progressOut io.Writer) error {
	if progressOut == nil {
		return goBuild(ctx, root, target, out, nil, pkgs...)
	}
	ids := make([]string, len(fns))
	for i, f := range fns {
		ids[i] = f.LogicalID
	}
	what := fmt.Sprintf("%d functions for %s/%s", len(fns), target.GOOS, target.GOARCH)
	if len(fns) == 1 {
		what = fmt.Sprintf("1 function for %s/%s", target.GOOS, target.GOARCH)
	}
	p := newProgress(progressOut, time.Now(), what, ids)
	listCtx, stopList := context.WithCancel(ctx)
	defer stopList()
	go func() {
		if n, err := countDeps(listCtx, root, target, pkgs); err == nil {
			p.setTotal(n)
		}
	}()
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				p.tick(now)
			}
		}
	}()
	err := goBuild(ctx, root, target, out, p, pkgs...)
	close(stop)
	<-ticked
	p.done(time.Now(), what, err)
	return err
}

// countDeps counts the packages a build of pkgs may compile.
func countDeps(ctx context.Context, root string, target Target, pkgs []string) (int, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = buildEnv(target)
	out, err := cmd.Output()
	if err != nil {
		return 0, err
	}
	return bytes.Count(out, []byte("\n")), nil
}

func buildEnv(target Target) []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target.GOOS, "GOARCH="+target.GOARCH)
}

// goBuild runs go build; with p it adds -v and p follows the output.
func goBuild(ctx context.Context, root string, target Target, out string, p *progress, pkgs ...string) error {
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out}
	if p != nil {
		args = append(args, "-v")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = root
	cmd.Env = buildEnv(target)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if p != nil {
		cmd.Stderr = p
	}
	if err := cmd.Run(); err != nil {
		msg := stderr.String()
		if p != nil {
			msg = p.errText()
		}
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(msg))
	}
	return nil
}

// Package zips each built bootstrap into outDir/<LogicalID>.zip (the bootstrap
// executable at the zip root, as provided.al2023 expects) and writes
// outDir/template.yaml: the source template with each CodeUri pointing at its zip.
func Package(root string, results []Result, outDir string) error {
	src, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	out := string(src)
	for _, r := range results {
		zipPath := filepath.Join(outDir, r.LogicalID+".zip")
		if err := zipBootstrap(r.Binary, zipPath); err != nil {
			return err
		}
		re := regexp.MustCompile(`(?m)^([ \t]*CodeUri:[ \t]*)(["']?)` + regexp.QuoteMeta(r.CodeURI) + `(["']?)([ \t]*(?:#.*)?)$`)
		if !re.MatchString(out) {
			return fmt.Errorf("package: CodeUri %s not found in template", r.CodeURI)
		}
		out = re.ReplaceAllString(out, "${1}"+r.LogicalID+".zip${4}")
	}
	return os.WriteFile(filepath.Join(outDir, "template.yaml"), []byte(out), 0o644)
}

func zipBootstrap(bin, zipPath string) error {
	f, err := os.Create(zipPath)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	in, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	return zw.Close()
}
