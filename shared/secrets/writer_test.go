package secrets

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// A file base writes <dir>/<kind>/<name>.json (0600) that the Loader reads
// back through the returned reference; writing again replaces the value.
func TestFileWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w := &Writer{Base: "file://" + dir}
	ctx := context.Background()
	ref, err := w.Put(ctx, "merchant", "iface-1", []byte(`{"k":"v1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ref != "file://"+dir+"/merchant/iface-1.json" {
		t.Fatalf("ref = %s", ref)
	}
	fi, err := os.Stat(strings.TrimPrefix(ref, "file://"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v", fi, err)
	}
	if ref2, err := w.Put(ctx, "merchant", "iface-1", []byte(`{"k":"v2"}`)); err != nil || ref2 != ref {
		t.Fatalf("second put = %s, %v", ref2, err)
	}
	if b, err := (&Loader{}).Load(ctx, ref); err != nil || string(b) != `{"k":"v2"}` {
		t.Fatalf("load = %s, %v", b, err)
	}
	ents, _ := os.ReadDir(dir + "/merchant")
	if len(ents) != 1 {
		t.Fatalf("left %d files, want only the secret", len(ents))
	}
}

func TestWriterRefusesNamesThatLeaveTheBase(t *testing.T) {
	w := &Writer{Base: "file://" + t.TempDir()}
	for _, c := range [][2]string{{"merchant", "../x"}, {"merchant", "a/b"}, {"../..", "x"}, {"merchant", ""}, {"", "x"}, {"merchant", "a.json"}} {
		if _, err := w.Put(context.Background(), c[0], c[1], []byte("v")); err != ErrBadSecretName {
			t.Errorf("%q/%q: err = %v, want ErrBadSecretName", c[0], c[1], err)
		}
	}
	if _, err := w.Put(context.Background(), "merchant", "x", nil); err == nil {
		t.Error("an empty value was written")
	}
	if _, err := (&Writer{Base: "file://relative/dir"}).Put(context.Background(), "merchant", "x", []byte("v")); err == nil {
		t.Error("a relative file base was accepted")
	}
}

// A Secrets Manager base creates the secret, and on ResourceExistsException
// puts a new value instead.
func TestSecretsManagerWriter(t *testing.T) {
	var mu sync.Mutex
	stored := map[string]string{}
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		target := r.Header.Get("X-Amz-Target")
		calls = append(calls, target)
		var in struct{ Name, SecretId, SecretString string }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &in)
		rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch target {
		case "secretsmanager.CreateSecret":
			if _, ok := stored[in.Name]; ok {
				rw.WriteHeader(400)
				io.WriteString(rw, `{"__type":"ResourceExistsException","message":"exists"}`)
				return
			}
			stored[in.Name] = in.SecretString
			io.WriteString(rw, `{"ARN":"arn:aws:secretsmanager:r:1:secret:`+in.Name+`-AbCdEf","Name":"`+in.Name+`"}`)
		case "secretsmanager.PutSecretValue":
			stored[in.SecretId] = in.SecretString
			io.WriteString(rw, `{"Name":"`+in.SecretId+`"}`)
		default:
			rw.WriteHeader(400)
			io.WriteString(rw, `{"__type":"InvalidRequestException"}`)
		}
	}))
	defer srv.Close()
	cfg := aws.Config{Region: "ap-southeast-1", Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""), BaseEndpoint: aws.String(srv.URL)}
	w := &Writer{Base: "estatepay/prod", SM: secretsmanager.NewFromConfig(cfg)}
	ctx := context.Background()
	for i, v := range []string{"one", "two"} {
		ref, err := w.Put(ctx, "merchant", "iface-9", []byte(v))
		if err != nil || ref != "estatepay/prod/merchant/iface-9" {
			t.Fatalf("put %d = %s, %v", i, ref, err)
		}
	}
	if stored["estatepay/prod/merchant/iface-9"] != "two" {
		t.Fatalf("stored %v", stored)
	}
	want := "secretsmanager.CreateSecret secretsmanager.CreateSecret secretsmanager.PutSecretValue"
	if got := strings.Join(calls, " "); got != want {
		t.Fatalf("calls %s, want %s", got, want)
	}
	if _, err := (&Writer{Base: "estatepay/prod"}).Put(ctx, "merchant", "x", []byte("v")); err == nil {
		t.Error("wrote without a client")
	}
}

func TestFingerprint(t *testing.T) {
	a, b := Fingerprint([]byte("secret-a")), Fingerprint([]byte("secret-b"))
	if a == b || !strings.HasPrefix(a, "SHA256:") || len(a) != len("SHA256:")+32+3 {
		t.Fatalf("fingerprints %s %s", a, b)
	}
	if strings.Contains(a, "secret") || Fingerprint([]byte("secret-a")) != a {
		t.Fatal("fingerprint not stable or leaks")
	}
}
