// Command localstack runs the whole product locally (make run): it reads
// template.yaml and serves it on 127.0.0.1 with embedded DynamoDB and SQS, the
// functions' real bootstraps, the payment sandboxes and the outbox (SES and
// Tencent Cloud SMS sandbox). PORT moves the gateway (default 8080); the
// other services use the next ports. BIN_DIR runs prebuilt bootstraps;
// LAMBDA_REPORTS=1 keeps Lambda's START/END/REPORT lines in the log.
//
// Until the stack is up (the first start builds every function, a minute or
// two on a cold Go build cache, printing its progress) the gateway and
// control ports answer 503 with Retry-After. .local/stack.json is written
// just before they open and removed on exit: a script that waits for
// /healthz can read it at once.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
)

func main() {
	port := 8080
	if p := os.Getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65525 {
			fmt.Fprintln(os.Stderr, "PORT must be a port number")
			os.Exit(2)
		}
		port = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var log io.Writer = os.Stdout
	if os.Getenv("LAMBDA_REPORTS") == "" {
		log = quietReports{os.Stdout}
	}
	s, err := stack.Start(ctx, stack.Options{Port: port, BinDir: os.Getenv("BIN_DIR"), Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "local stack:", err)
		os.Exit(1)
	}
	printSummary(s, time.Since(start))
	<-ctx.Done()
	fmt.Println("\nstopping: saving tables and queues to .local/ …")
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
		os.Exit(1)
	}
}

func printSummary(s *stack.Stack, took time.Duration) {
	u := s.URLs
	fmt.Printf(`
estatepay local stack is up (%s)

  API gateway (HttpApi)     %s      health: %s/healthz
  WeChat WebView (proxy)    %s      open pages here to pay as a WeChat user
  WeChat Pay sandbox        %s
  Alipay sandbox            %s
  DynamoDB (embedded)       %s
  SQS                       %s
  outbox (SMS + e-mail)     %s      codes and set-password links the product sent (JSON: /messages)
  e-invoice platform        %s      诺诺-shaped sandbox: invoices issued (JSON: /sandbox/invoices)
  control                   %s      POST /schedules/{name} fires a schedule

Demo codes (QR PNGs under .local/qr/):
`, took.Round(time.Millisecond), u.Gateway, u.Gateway, u.WeChatWebView, u.WeChatSandbox, u.AlipayGateway, u.DynamoDB, u.SQS, u.Outbox, u.Einvoice, u.Control)
	for _, c := range s.Demo.Communities { // the product template always seeds a demo
		fmt.Printf("  %-6s %-14s %s\n", c.Name, "["+c.Accepts+"]", c.URL)
		if c.Accepts == "wechat+alipay" {
			fmt.Printf("  %-6s %-14s %s\n", "", "(as WeChat)", c.WeChat)
		}
	}
	if ns := s.Demo.Notices; len(ns) > 0 {
		fmt.Printf("\nDemo payment notices of 阳光花园: %d (all in .local/stack.json demo.notices), e.g.\n", len(ns))
		for _, n := range ns[:min(3, len(ns))] {
			asks := "paid, asks nothing"
			if n.TotalFen > 0 {
				asks = fmt.Sprintf("asks %d.%02d yuan", n.TotalFen/100, n.TotalFen%100)
			}
			fmt.Printf("  %-12s %-22s %s\n", n.House, asks, n.URL)
		}
	}
	if len(s.Demo.Accounts) > 0 {
		fmt.Printf("\nConsole logins (%s/admin; passwords kept in .local/keys/%s):\n", u.Gateway, stack.DemoAccountsFile)
		for _, a := range s.Demo.Accounts {
			company := a.CompanyID
			if company == "" {
				company = "(platform)"
			}
			fmt.Printf("  %-13s %-15s %s  %s\n", a.Role, company, a.Phone, a.Password)
			if a.CodeURL != "" { // a business manager's default code (星收付)
				fmt.Printf("  %-13s code %s  (as WeChat: %s)\n", "", a.CodeURL, a.WeChatCodeURL)
			}
		}
	}
	fmt.Printf("\nSchedules: %v\nEverything above is also in .local/stack.json. Ctrl-C stops and keeps the data (make reset wipes it).\n\n", s.ScheduleNames())
}

// quietReports drops the Lambda START/END/REPORT lines (the stack's own
// one-line "invoke" summary says the same); LAMBDA_REPORTS=1 keeps them.
// Writes arrive as whole lines.
type quietReports struct{ w io.Writer }

var reportMarkers = [][]byte{[]byte("] START RequestId: "), []byte("] END RequestId: "), []byte("] REPORT RequestId: ")}

func (q quietReports) Write(b []byte) (int, error) {
	for _, m := range reportMarkers {
		if bytes.Contains(b, m) && bytes.Count(b, []byte("\n")) <= 1 {
			return len(b), nil
		}
	}
	return q.w.Write(b)
}
