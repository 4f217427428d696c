package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/lambdaemu"
)

// TestEndToEndWithLambdaemu runs a real aws-lambda-go function behind the
// gateway: the event must decode into events.APIGatewayV2HTTPRequest in the
// function, and lambdaemu's errors must map to 500/502.
func TestEndToEndWithLambdaemu(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a function binary")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/apifn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pools := lambdaemu.Pools{"api": lambdaemu.NewPool(lambdaemu.FunctionConfig{Name: "api", Binary: bin})}
	t.Cleanup(func() { pools.Close() })
	h := newGateway(t, []Route{
		{"POST", "/echo/{proxy+}", "api"},
		{"GET", "/fail", "api"},
		{"GET", "/crash", "api"},
	}, pools, Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()

	payload := []byte{0, 1, 2, 0xfe, 0xff}
	req, _ := http.NewRequest("POST", srv.URL+"/echo/a/b%20c?x=1&x=2", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Cookie", "sid=s1; lang=zh")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		RouteKey string            `json:"routeKey"`
		Params   map[string]string `json:"params"`
		Query    map[string]string `json:"query"`
		Cookies  []string          `json:"cookies"`
		Body     []byte            `json:"body"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &got) != nil {
		t.Fatalf("%d %q", resp.StatusCode, raw)
	}
	if got.RouteKey != "POST /echo/{proxy+}" || got.Params["proxy"] != "a/b c" || got.Query["x"] != "1,2" ||
		!slices.Equal(got.Cookies, []string{"sid=s1", "lang=zh"}) || !bytes.Equal(got.Body, payload) {
		t.Errorf("function saw %+v", got)
	}
	if resp.Header.Get("Set-Cookie") != "seen=1; Path=/" || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("headers %v", resp.Header)
	}

	for path, want := range map[string]int{"/fail": 500, "/crash": 502} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// Bodies between Lambda's 6 MB invoke limit and API Gateway's 10 MB limit
// must get 413 like in the cloud, never 502. The limit applies to the event
// JSON, so a binary body (base64 in the event) hits it at ~4.5 MiB.
func TestBodySizesWithLambdaemu(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a function binary")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/apifn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pools := lambdaemu.Pools{"api": lambdaemu.NewPool(lambdaemu.FunctionConfig{Name: "api", Binary: bin, Timeout: 10 * time.Second})}
	t.Cleanup(func() { pools.Close() })
	var logs bytes.Buffer
	h := newGateway(t, []Route{{"POST", "/size", "api"}}, pools, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := httptest.NewServer(h)
	defer srv.Close()

	const MiB = 1 << 20
	for _, tc := range []struct {
		size        int
		contentType string
		want        int
	}{
		{59 * MiB / 10, "text/plain", 200},
		{59 * MiB / 10, "application/octet-stream", 413}, // base64: 7.9 MiB of event
		{4 * MiB, "application/octet-stream", 200},       // base64: 5.3 MiB of event
		{65 * MiB / 10, "text/plain", 413},
		{99 * MiB / 10, "application/json", 413},
		{105 * MiB / 10, "text/plain", 413}, // over API Gateway's own 10 MiB
	} {
		body := bytes.Repeat([]byte("a"), tc.size)
		resp, err := http.Post(srv.URL+"/size", tc.contentType, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%d bytes %s: %v", tc.size, tc.contentType, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode != tc.want:
			t.Errorf("%d bytes %s: %d %s, want %d", tc.size, tc.contentType, resp.StatusCode, raw, tc.want)
		case tc.want == 413 && string(raw) != `{"message":"Request Entity Too Large"}`:
			t.Errorf("%d bytes %s: body %s", tc.size, tc.contentType, raw)
		case tc.want == 200 && string(raw) != fmt.Sprintf(`{"bytes":%d}`, tc.size):
			t.Errorf("%d bytes %s: the function saw %s", tc.size, tc.contentType, raw)
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("oversized bodies logged as errors:\n%s", logs.String())
	}
}
