package providers

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/store"
)

type mapSecrets map[string][]byte

func (m mapSecrets) Load(_ context.Context, ref string) ([]byte, error) { return m[ref], nil }

func alipaySecret(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(AlipaySecret{
		AppPrivateKey:   string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		AlipayPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	})
	return b
}

// A cached adapter must follow its interface record: an edited seller id (which
// the adapter checks on every notification) must not keep the old one for the
// cache's lifetime.
func TestRegistryRebuildsOnAnyInterfaceChange(t *testing.T) {
	r := &Registry{Secrets: mapSecrets{"file:///k.json": alipaySecret(t)}}
	ctx := context.Background()
	iface := store.Interface{ID: "ali-1", CompanyID: "co-1", Channel: domain.Alipay, Status: domain.StatusApproved,
		Mode: "app", AppID: "2021000000000001", SellerID: "2088000000000001", SecretRef: "file:///k.json"}
	p1, err := r.Provider(ctx, iface)
	if err != nil {
		t.Fatal(err)
	}
	if p2, err := r.Provider(ctx, iface); err != nil || p2 != p1 {
		t.Fatalf("same record: got a new adapter (%v)", err)
	}
	iface.SellerID = "2088000000000002"
	p3, err := r.Provider(ctx, iface)
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 {
		t.Fatal("seller id changed but the cached adapter (checking the old seller id) was reused")
	}
}
