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
	"sync"

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
// the repository root (module root). Builds run with limited parallelism.
func Functions(ctx context.Context, root string, t *template.Template, target Target, outDir string) ([]Result, error) {
	fns := t.Functions()
	results := make([]Result, len(fns))
	errs := make([]error, len(fns))
	sem := make(chan struct{}, max(1, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i, f := range fns {
		bin := filepath.Join(outDir, f.LogicalID, "bootstrap")
		results[i] = Result{LogicalID: f.LogicalID, CodeURI: f.CodeURI, Binary: bin}
		wg.Add(1)
		go func(i int, f template.Function) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = One(ctx, root, "./"+filepath.ToSlash(f.CodeURI), target, bin)
		}(i, f)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", fns[i].LogicalID, err)
		}
	}
	return results, nil
}

// One builds package pkg (relative to root) into out.
func One(ctx context.Context, root, pkg string, target Target, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target.GOOS, "GOARCH="+target.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
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
		re := regexp.MustCompile(`(?m)^(\s*CodeUri:\s*)` + regexp.QuoteMeta(r.CodeURI) + `\s*$`)
		if !re.MatchString(out) {
			return fmt.Errorf("package: CodeUri %s not found in template", r.CodeURI)
		}
		out = re.ReplaceAllString(out, "${1}"+r.LogicalID+".zip")
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
