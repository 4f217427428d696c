// Command bench is `make bench`: it builds every function of template.yaml (and a
// hello-world aws-lambda-go baseline, ./infra/bench/hello), runs them in the local
// stack (infra/local/stack: real bootstraps behind the Lambda Runtime API
// emulator, the HttpApi gateway, embedded DynamoDB, the provider sandboxes) and
// prints, as a table and as JSON in .local/bench.json:
//
//   - per function: binary size (host and linux/arm64, what deploys), cold start
//     (exec → first response, fresh instance per sample), warm p50/p99 through the
//     gateway — each also as a ratio to the baseline measured in the same run;
//
//   - order creation p50/p99 (Alipay, WeChat) and callback processing p50/p99;
//
//   - DynamoDB requests per completed payment, per function, from the functions'
//     own EMF metrics lines, cross-checked against the embedded server's count.
//
//   - fan-out throughput: -fanout payment events through FanoutFunction (fanout.go).
//
//   - with -big: importing 100k bills and paging through them (bills.go), and
//     settling -settle-orders orders of one merchant × channel × day against the
//     embedded DynamoDB (settle.go);
//
//   - always: settling -settle-synthetic (1,000,000) synthetic orders of one
//     merchant × channel × day (settle_synthetic.go).
//
// Usage: go run ./infra/bench [-cold 15] [-warm 300] [-orders 200] [-callbacks 100] [-fanout 500] [-settle-synthetic 1000000] [-only cold,...] [-big [-bills 100000] [-settle-orders 20000]]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	Cold      int  `json:"cold_samples"`
	Warmup    int  `json:"warmup_requests"`
	Warm      int  `json:"warm_requests"`
	Orders    int  `json:"order_requests"`
	Callbacks int  `json:"callback_samples"`
	Big       bool `json:"big"`
	Bills     int  `json:"bills_rows"`
	Fanout    int  `json:"fanout_events"`
	Settle    int  `json:"settle_orders"`
	// SettleSynthetic is the synthetic day's size (settle_synthetic.go).
	SettleSynthetic int           `json:"settle_synthetic_orders"`
	Only            string        `json:"only,omitempty"`
	Out             string        `json:"-"`
	Timeout         time.Duration `json:"-"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bills-worker" { // a child of measureBills (bills.go)
		if err := billsWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench bills-worker:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "settle-worker" { // a child of measureSettlement (settle.go)
		if err := settleWorker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench settle-worker:", err)
			os.Exit(1)
		}
		return
	}
	var cfg config
	flag.IntVar(&cfg.Cold, "cold", 15, "cold-start samples per function (fresh instance each)")
	flag.IntVar(&cfg.Warmup, "warmup", 20, "untimed warm-up requests per route")
	flag.IntVar(&cfg.Warm, "warm", 300, "timed warm requests per route")
	flag.IntVar(&cfg.Orders, "orders", 200, "timed order creations per channel")
	flag.IntVar(&cfg.Callbacks, "callbacks", 100, "paid orders (callbacks) per channel")
	flag.BoolVar(&cfg.Big, "big", false, "also measure bills at scale: import and page through -bills bills (minutes: the embedded DynamoDB writes one item at a time)")
	flag.IntVar(&cfg.Bills, "bills", 100_000, "bills imported and paged through with -big (or -only bills)")
	flag.IntVar(&cfg.Fanout, "fanout", 500, "payment events put through FanoutFunction at once")
	flag.IntVar(&cfg.Settle, "settle-orders", 20_000, "paid orders of one merchant × channel × day settled against the embedded DynamoDB with -big (or -only settlement-dynamodb)")
	flag.IntVar(&cfg.SettleSynthetic, "settle-synthetic", 1_000_000, "synthetic paid orders of one merchant × channel × day settled (settlement)")
	flag.StringVar(&cfg.Only, "only", "", "run only these measurements (comma-separated: first,dynamodb,cold,warm,orders,callbacks,fanout,bills,settlement,settlement-dynamodb); build, stack and fixtures always run")
	flag.StringVar(&cfg.Out, "out", "", "JSON report path (default <repo>/.local/bench.json)")
	flag.DurationVar(&cfg.Timeout, "timeout", 6*time.Minute, "give up after this long")
	flag.Parse()
	timeoutSet := false
	flag.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
	if !timeoutSet && (cfg.Big || strings.Contains(cfg.Only, "bills") || strings.Contains(cfg.Only, "settlement-dynamodb")) {
		cfg.Timeout = 40 * time.Minute // bills at scale take minutes on the embedded DynamoDB
	}
	if cfg.Cold < 1 || cfg.Warm < 1 || cfg.Orders < 1 || cfg.Callbacks < 1 || cfg.Warmup < 0 || cfg.Bills < benchBillsMonths || cfg.Fanout < 1 || cfg.Settle < 1 || cfg.SettleSynthetic < 1 {
		fmt.Fprintln(os.Stderr, "bench: -cold, -warm, -orders, -callbacks, -fanout, -settle-orders and -settle-synthetic must be positive, -bills at least 20")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// command is how this run was started, for the report.
func command() string {
	args := append([]string{"go", "run", "./infra/bench"}, os.Args[1:]...)
	return strings.Join(args, " ")
}

// repoRoot finds the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
