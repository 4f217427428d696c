package build_test

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/build"
	"github.com/estatepay/estatepay/infra/template"
)

// fixtureRoot is the small template the local stack's tests use: two functions
// (an HttpApi one and an SQS consumer) whose sources live next to it.
var fixtureRoot = filepath.Join("..", "local", "stack", "testdata", "fixture")

// readZip returns the entries of a zip and the content of "bootstrap".
func readZip(t *testing.T, path string) ([]*zip.File, []byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { zr.Close() })
	var content []byte
	for _, f := range zr.File {
		if f.Name == "bootstrap" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			content, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read bootstrap from %s: %v", path, err)
			}
		}
	}
	return zr.File, content
}

func TestFunctionsAndPackageForLambda(t *testing.T) {
	tm, err := template.Load(filepath.Join(fixtureRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	binDir, outDir := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	results, err := build.Functions(ctx, fixtureRoot, tm, build.Lambda, binDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("results: %+v", results)
	}
	for _, r := range results {
		if r.Binary != filepath.Join(binDir, r.LogicalID, "bootstrap") {
			t.Errorf("%s: binary at %s", r.LogicalID, r.Binary)
		}
		ef, err := elf.Open(r.Binary)
		if err != nil {
			t.Fatalf("%s: not an ELF binary: %v", r.LogicalID, err)
		}
		if ef.Machine != elf.EM_AARCH64 || ef.Class != elf.ELFCLASS64 {
			t.Errorf("%s: built for %v/%v, want linux/arm64 (provided.al2023 on Graviton)", r.LogicalID, ef.Machine, ef.Class)
		}
		// -ldflags=-s strips the symbol table.
		if syms, _ := ef.Symbols(); len(syms) > 0 {
			t.Errorf("%s: %d symbols; the build should be stripped", r.LogicalID, len(syms))
		}
		ef.Close()
	}

	if err := build.Package(fixtureRoot, results, outDir); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		want, err := os.ReadFile(r.Binary)
		if err != nil {
			t.Fatal(err)
		}
		files, got := readZip(t, filepath.Join(outDir, r.LogicalID+".zip"))
		if len(files) != 1 || files[0].Name != "bootstrap" {
			var names []string
			for _, f := range files {
				names = append(names, f.Name)
			}
			t.Errorf("%s.zip holds %v, want exactly [bootstrap] at the root", r.LogicalID, names)
			continue
		}
		if m := files[0].Mode(); !m.IsRegular() || m.Perm()&0o111 != 0o111 {
			t.Errorf("%s.zip: bootstrap mode %v, want an executable regular file", r.LogicalID, m)
		}
		if files[0].Method != zip.Deflate {
			t.Errorf("%s.zip: method %d", r.LogicalID, files[0].Method)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s.zip: bootstrap (%d bytes) differs from the built binary (%d bytes)", r.LogicalID, len(got), len(want))
		}
	}

	// The packaged template is the source template with each CodeUri pointing at its zip.
	src, err := os.ReadFile(filepath.Join(fixtureRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(outDir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := template.Parse(out)
	if err != nil {
		t.Fatalf("packaged template does not parse: %v\n%s", err, out)
	}
	for _, f := range pt.Functions() {
		if f.CodeURI != f.LogicalID+".zip" {
			t.Errorf("%s: packaged CodeUri %q, want %s.zip", f.LogicalID, f.CodeURI, f.LogicalID)
		}
		if _, err := os.Stat(filepath.Join(outDir, f.CodeURI)); err != nil {
			t.Errorf("%s: CodeUri does not name a file next to the template: %v", f.LogicalID, err)
		}
	}
	// Nothing else changed: same lines apart from the CodeUri values.
	srcLines, outLines := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
	if len(srcLines) != len(outLines) {
		t.Fatalf("packaged template has %d lines, source %d", len(outLines), len(srcLines))
	}
	changed := 0
	for i := range srcLines {
		if srcLines[i] == outLines[i] {
			continue
		}
		changed++
		if !strings.Contains(srcLines[i], "CodeUri:") || !strings.HasSuffix(outLines[i], ".zip") {
			t.Errorf("line %d changed: %q -> %q", i+1, srcLines[i], outLines[i])
		}
	}
	if changed != len(results) {
		t.Errorf("%d lines changed, want one CodeUri per function (%d)", changed, len(results))
	}
	st, _ := template.Parse(src)
	for id, r := range st.Resources {
		if r.Type == "AWS::Serverless::Function" {
			continue
		}
		if !reflect.DeepEqual(pt.Resources[id], r) {
			t.Errorf("resource %s changed by packaging", id)
		}
	}
}

// writeRoot makes a repository root holding only template.yaml, and fake built
// binaries for results (Package only zips what it is given).
func writeRoot(t *testing.T, tmpl string, ids map[string]string) (string, []build.Result) {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "template.yaml"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	var results []build.Result
	for id, uri := range ids {
		bin := filepath.Join(root, "bin", id, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, []byte("#!/bin/sh\necho "+id+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		results = append(results, build.Result{LogicalID: id, CodeURI: uri, Binary: bin})
	}
	return root, results
}

func TestPackageRewritesOnlyMatchingCodeUris(t *testing.T) {
	const tmpl = `Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/a
      Description: mentions functions/a but is not a CodeUri
  AB:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/ab
      Timeout: 3
`
	root, results := writeRoot(t, tmpl, map[string]string{"A": "functions/a", "AB": "functions/ab"})
	out := t.TempDir()
	if err := build.Package(root, results, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "template.yaml"))
	want := strings.NewReplacer("CodeUri: functions/a\n", "CodeUri: A.zip\n", "CodeUri: functions/ab\n", "CodeUri: AB.zip\n").Replace(tmpl)
	if string(b) != want {
		t.Errorf("packaged template:\n%s\nwant:\n%s", b, want)
	}
	for id := range map[string]bool{"A": true, "AB": true} {
		files, got := readZip(t, filepath.Join(out, id+".zip"))
		if len(files) != 1 || !strings.Contains(string(got), "echo "+id) {
			t.Errorf("%s.zip: %d entries, bootstrap %q", id, len(files), got)
		}
	}
}

// Packaging changes CodeUri values only: blank lines after a CodeUri line and the
// file's final newline stay.
func TestPackageKeepsLayout(t *testing.T) {
	const tmpl = "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/a\n\n" +
		"  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/b\n"
	root, results := writeRoot(t, tmpl, map[string]string{"A": "functions/a", "B": "functions/b"})
	out := t.TempDir()
	if err := build.Package(root, results, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "template.yaml"))
	want := strings.NewReplacer("functions/a", "A.zip", "functions/b", "B.zip").Replace(tmpl)
	if string(b) != want {
		t.Errorf("packaged template:\n%q\nwant:\n%q", b, want)
	}
}

func TestPackageFailsOnUnknownCodeUri(t *testing.T) {
	root, results := writeRoot(t, "Resources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/a\n",
		map[string]string{"A": "functions/elsewhere"})
	if err := build.Package(root, results, t.TempDir()); err == nil {
		t.Error("Package accepted a result whose CodeUri is not in the template")
	}
	root, _ = writeRoot(t, "Resources: {}\n", nil)
	if err := build.Package(root, []build.Result{{LogicalID: "A", CodeURI: "functions/a", Binary: filepath.Join(root, "missing")}}, t.TempDir()); err == nil {
		t.Error("Package accepted a missing binary")
	}
}

// YAML lets CodeUri be quoted or followed by a comment; the packaged template
// must still point at the zip.
func TestPackageQuotedAndCommentedCodeUri(t *testing.T) {
	const tmpl = `Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: "functions/a"
  B:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/b # the b function
`
	root, results := writeRoot(t, tmpl, map[string]string{"A": "functions/a", "B": "functions/b"})
	out := t.TempDir()
	if err := build.Package(root, results, out); err != nil {
		t.Fatalf("Package: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "template.yaml"))
	pt, err := template.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pt.Functions() {
		if f.CodeURI != f.LogicalID+".zip" {
			t.Errorf("%s: CodeUri %q after packaging", f.LogicalID, f.CodeURI)
		}
	}
}

func TestOneReportsCompileErrors(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/broken\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fn", "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := build.One(ctx, root, "./fn", build.Host, filepath.Join(t.TempDir(), "bootstrap"))
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Errorf("One on a broken package: %v, want the compiler's message", err)
	}
}

// The local stack's first start builds for minutes: the build says what it
// builds and how it ended, and a compile error still reaches the caller.
func TestFunctionsWithProgress(t *testing.T) {
	tm, err := template.Load(filepath.Join(fixtureRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	results, err := build.FunctionsWithProgress(ctx, fixtureRoot, tm, build.Host, t.TempDir(), &out)
	if err != nil || len(results) != 2 {
		t.Fatalf("%v %+v", err, results)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	what := "2 functions for " + build.Host.GOOS + "/" + build.Host.GOARCH
	if lines[0] != "building "+what+": ApiFunction, ConsumerFunction" || !strings.HasPrefix(lines[len(lines)-1], "built "+what+" in ") {
		t.Errorf("progress:\n%s", out.String())
	}

	root := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":        "module example.com/broken\n\ngo 1.26\n",
		"fn/main.go":    "package main\n\nfunc main() { undefinedThing() }\n",
		"template.yaml": "Resources:\n  BrokenFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	broken, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	_, err = build.FunctionsWithProgress(ctx, root, broken, build.Host, t.TempDir(), &out)
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") {
		t.Errorf("broken build: %v, want the compiler's message", err)
	}
	if !strings.Contains(out.String(), "building 1 function for "+build.Host.GOOS+"/"+build.Host.GOARCH+" failed after ") {
		t.Errorf("broken build progress: %q", out.String())
	}
}
