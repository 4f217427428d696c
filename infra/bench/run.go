package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/estatepay/estatepay/infra/build"
	"github.com/estatepay/estatepay/infra/local/gateway"
	"github.com/estatepay/estatepay/infra/local/lambdaemu"
	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/template"
)

// helloID is the baseline's function name (its own pool and gateway route).
const (
	helloID    = "HelloFunction"
	helloPkg   = "./infra/bench/hello"
	helloRoute = "/hello"
)

// bench is one run: the stack, the baseline, the fixtures and the results.
type bench struct {
	cfg    config
	root   string
	tmpl   *template.Template
	tmp    string
	binDir string // host bootstraps: <binDir>/<LogicalID>/bootstrap
	armDir string

	s      *stack.Stack
	cap    *Capture
	client *http.Client // keep-alive, no redirects
	gw     string

	helloPool *lambdaemu.Pool
	helloURL  string
	helloSrv  *http.Server
	recorder  *eventRecorder

	fx     fixtures
	tables []tableInfo

	functions []*fnResult // baseline first, then the template's functions
	rep       *Report
}

type fnResult struct {
	ID          string
	HostBytes   int64
	ArmBytes    int64
	ColdRequest string
	Cold, Init  Summary
	ColdHandler Summary          // the cold invocation's own handler time (its metrics line)
	ColdRest    Summary          // cold start minus that handler time, per sample
	ColdCalls   map[string]int64 // what the cold invocation called (its metrics line)
	Warm        *routeResult     // the function's representative route
}

type routeResult struct {
	Function, Request string
	Sum               Summary
}

func run(ctx context.Context, cfg config) error {
	began := time.Now()
	root, err := repoRoot()
	if err != nil {
		return err
	}
	tmpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "estatepay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{cfg: cfg, root: root, tmpl: tmpl, tmp: tmp, cap: NewCapture(),
		client: &http.Client{
			Timeout:       30 * time.Second,
			Transport:     &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		rep: newReport(cfg)}
	if cfg.Out == "" {
		cfg.Out = filepath.Join(root, ".local", "bench.json")
	}

	steps := []struct {
		name, key string
		fn        func(context.Context) error
	}{
		{"build", "", b.build},
		{"start stack", "", b.startStack},
		{"first payments (cold instances, empty caches)", "first", b.measureFirstPayments},
		{"fixtures", "", b.fixtures},
		{"DynamoDB per payment (warm)", "dynamodb", b.measureDynamo},
		{"cold starts", "cold", b.measureCold},
		{"warm requests", "warm", b.measureWarm},
		{"order creation", "orders", b.measureOrders},
		{"callbacks", "callbacks", b.measureCallbacks},
		{"fan-out throughput", "fanout", b.measureFanout},
		{"bills at scale (import, paging)", "bills", b.measureBills},
		{"settlement of a million synthetic orders", "settlement", b.measureSyntheticSettlement},
		{"settlement against the embedded DynamoDB", "settlement-dynamodb", b.measureSettlement},
	}
	only := map[string]bool{}
	for _, k := range strings.Split(cfg.Only, ",") {
		if k = strings.TrimSpace(k); k != "" {
			only[k] = true
		}
	}
	defer b.stop()
	for _, st := range steps {
		if st.key != "" && len(only) > 0 && !only[st.key] {
			continue
		}
		if (st.key == "bills" || st.key == "settlement-dynamodb") && !cfg.Big && !only[st.key] { // minutes: only when asked
			continue
		}
		t := time.Now()
		progress("%s …", st.name)
		if err := st.fn(ctx); err != nil {
			if b.cap != nil && b.s != nil {
				return fmt.Errorf("%s: %w\n--- last stack output ---\n%s", st.name, err, b.cap.Tail())
			}
			return fmt.Errorf("%s: %w", st.name, err)
		}
		b.rep.Phases = append(b.rep.Phases, Phase{Name: st.name, Seconds: time.Since(t).Round(10 * time.Millisecond).Seconds()})
	}
	b.rep.TookSeconds = time.Since(began).Round(10 * time.Millisecond).Seconds()
	b.finishReport()
	printReport(os.Stdout, b.rep)
	out, err := json.MarshalIndent(b.rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.Out, append(out, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nJSON: %s\n", cfg.Out)
	return nil
}

func (b *bench) stop() {
	if b.helloSrv != nil {
		_ = b.helloSrv.Close()
	}
	if b.helloPool != nil {
		_ = b.helloPool.Close()
	}
	if b.s != nil {
		_ = b.s.Close()
	}
}

// build compiles the template's functions and the baseline for the host (what
// runs here) and for linux/arm64 (what deploys), and records the sizes.
func (b *bench) build(ctx context.Context) error {
	b.binDir, b.armDir = filepath.Join(b.tmp, "host"), filepath.Join(b.tmp, "arm64")
	targets := []struct {
		dir string
		t   build.Target
	}{{b.binDir, build.Host}}
	if build.Host != build.Lambda {
		targets = append(targets, struct {
			dir string
			t   build.Target
		}{b.armDir, build.Lambda})
	} else {
		b.armDir = b.binDir
	}
	for _, tg := range targets {
		t := time.Now()
		if _, err := build.Functions(ctx, b.root, b.tmpl, tg.t, tg.dir); err != nil {
			return err
		}
		if err := build.One(ctx, b.root, helloPkg, tg.t, filepath.Join(tg.dir, helloID, "bootstrap")); err != nil {
			return fmt.Errorf("build %s: %w", helloID, err)
		}
		progress("  built %d functions + baseline for %s/%s in %s", len(b.tmpl.Functions()), tg.t.GOOS, tg.t.GOARCH, time.Since(t).Round(time.Millisecond))
	}
	ids := []string{helloID}
	for _, f := range b.tmpl.Functions() {
		ids = append(ids, f.LogicalID)
	}
	for _, id := range ids {
		r := &fnResult{ID: id}
		var err error
		if r.HostBytes, err = fileSize(filepath.Join(b.binDir, id, "bootstrap")); err != nil {
			return err
		}
		if r.ArmBytes, err = fileSize(filepath.Join(b.armDir, id, "bootstrap")); err != nil {
			return err
		}
		b.functions = append(b.functions, r)
	}
	return nil
}

func fileSize(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (b *bench) fn(id string) *fnResult {
	for _, f := range b.functions {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// startStack runs the template in the local stack on ephemeral ports with fresh
// state, and the baseline behind its own pool and gateway.
func (b *bench) startStack(ctx context.Context) error {
	s, err := stack.Start(ctx, stack.Options{
		Root: b.root, StateDir: filepath.Join(b.tmp, "state"), Port: 0, BinDir: b.binDir, Log: b.cap,
		NoSchedules: true, SnapshotEvery: time.Hour,
		NotifyRetry: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond},
	})
	if err != nil {
		return err
	}
	b.s, b.gw = s, s.URLs.Gateway
	if s.Demo == nil {
		return errors.New("the stack seeded no demo data")
	}
	b.tables = tablesOf(b.tmpl, s.Tables)
	if err := b.demoCommunity(); err != nil {
		return err
	}

	b.helloPool = lambdaemu.NewPool(b.helloConfig())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := gateway.New([]gateway.Route{{Method: http.MethodGet, Path: helloRoute, Function: helloID}},
		gateway.InvokerFunc(b.invokeHello), gateway.Options{AccountID: stack.AccountID, Logger: quiet})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.helloSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.helloSrv.Serve(l) }()
	b.helloURL = "http://" + l.Addr().String()

	b.recorder, err = newEventRecorder(b.tmpl)
	return err
}

// invokeHello is the baseline's invoker: the pool plus the same one log line
// per invocation the stack's invoker writes, so both paths cost the same.
func (b *bench) invokeHello(ctx context.Context, function string, payload []byte) ([]byte, error) {
	resp, info, err := b.helloPool.Invoke(ctx, payload)
	status := "ok"
	if err != nil {
		status = "error: " + err.Error()
	}
	fmt.Fprintf(b.cap, "invoke %-22s %8s  %s  %s\n", function, info.Duration.Round(10*time.Microsecond), "warm", status)
	return resp, err
}

func (b *bench) helloConfig() lambdaemu.FunctionConfig {
	return lambdaemu.FunctionConfig{
		Name: helloID, Binary: filepath.Join(b.binDir, helloID, "bootstrap"), Dir: b.root,
		Env:     []string{"AWS_REGION=" + stack.Region, "AWS_DEFAULT_REGION=" + stack.Region},
		Timeout: 10 * time.Second, MemoryMB: 256, AccountID: stack.AccountID,
	}
}

// functionConfig is what the stack gives function id (same env, binary, limits).
func (b *bench) functionConfig(id string) (lambdaemu.FunctionConfig, error) {
	if id == helloID {
		return b.helloConfig(), nil
	}
	for _, f := range b.tmpl.Functions() {
		if f.LogicalID != id {
			continue
		}
		env, err := b.s.FunctionEnv(f)
		if err != nil {
			return lambdaemu.FunctionConfig{}, err
		}
		return lambdaemu.FunctionConfig{
			Name: f.LogicalID, Binary: filepath.Join(b.binDir, f.LogicalID, "bootstrap"), Dir: b.root, Env: env,
			Timeout: time.Duration(f.Timeout) * time.Second, MemoryMB: f.MemorySize, AccountID: stack.AccountID,
		}, nil
	}
	return lambdaemu.FunctionConfig{}, fmt.Errorf("no function %s in the template", id)
}

func machine() Machine {
	return Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), CPU: cpuModel()}
}

// cpuModel reads the CPU model name on Linux ("" elsewhere).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if k = strings.TrimSpace(k); ok && (k == "model name" || k == "Model") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
