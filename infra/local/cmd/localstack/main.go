// Command localstack runs the whole product locally (make run): it reads
// template.yaml and serves it on 127.0.0.1 with embedded DynamoDB and SQS, the
// functions' real bootstraps and the provider sandboxes. PORT moves the gateway
// (default 8080); the other services use the next ports.
package main

import (
	"context"
	"fmt"
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
	s, err := stack.Start(ctx, stack.Options{Port: port, BinDir: os.Getenv("BIN_DIR")})
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
  control                   %s      POST /schedules/{name} fires a schedule

Demo codes (QR PNGs under .local/qr/):
`, took.Round(time.Millisecond), u.Gateway, u.Gateway, u.WeChatWebView, u.WeChatSandbox, u.AlipayGateway, u.DynamoDB, u.SQS, u.Control)
	for _, c := range s.Demo.Communities { // the product template always seeds a demo
		fmt.Printf("  %-6s %-14s %s\n", c.Name, "["+c.Accepts+"]", c.URL)
		if c.Accepts == "wechat+alipay" {
			fmt.Printf("  %-6s %-14s %s\n", "", "(as WeChat)", c.WeChat)
		}
	}
	fmt.Printf("\nSchedules: %v\nEverything above is also in .local/stack.json. Ctrl-C stops and keeps the data (make reset wipes it).\n\n", s.ScheduleNames())
}
