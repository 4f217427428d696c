// Command build compiles every function in template.yaml (make build) and, with
// -package, writes deployable zips and dist/template.yaml (make package).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/estatepay/estatepay/infra/build"
	"github.com/estatepay/estatepay/infra/template"
)

func main() {
	target := flag.String("target", "lambda", "lambda (linux/arm64) or host")
	out := flag.String("out", "", "output directory (default dist for lambda, .local/build for host)")
	pkg := flag.Bool("package", false, "also write <out>/<Function>.zip and <out>/template.yaml")
	flag.Parse()
	root, _ := os.Getwd()
	t, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		fail(err)
	}
	tgt, dir := build.Lambda, "dist"
	if *target == "host" {
		tgt, dir = build.Host, filepath.Join(".local", "build")
	}
	if *out != "" {
		dir = *out
	}
	res, err := build.FunctionsWithProgress(context.Background(), root, t, tgt, dir, os.Stdout)
	if err != nil {
		fail(err)
	}
	var names []string
	for _, r := range res {
		st, _ := os.Stat(r.Binary)
		names = append(names, fmt.Sprintf("%s (%.1f MB)", r.LogicalID, float64(st.Size())/1e6))
	}
	fmt.Printf("  into %s: %s\n", dir, strings.Join(names, ", "))
	if *pkg {
		if err := build.Package(root, res, dir); err != nil {
			fail(err)
		}
		fmt.Printf("packaged %d zips and %s\n", len(res), filepath.Join(dir, "template.yaml"))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "build:", err)
	os.Exit(1)
}
