package setup

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/estatepay/estatepay/shared/notify/wechatoa"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
)

// OATokenCache keeps an official account's access token in the
// AccessTable (WXTOKEN#<app id>) for every function that sends through it,
// so they share one token (a second stable_token fetch does not refresh it).
type OATokenCache struct{ N *store.Notifications }

// GetToken returns the cached token (zero when none).
func (c OATokenCache) GetToken(ctx context.Context, appID string) (wechatoa.Token, error) {
	t, err := c.N.GetToken(ctx, appID)
	return wechatoa.Token{Value: t.Value, ExpiresAt: t.ExpiresAt}, err
}

// PutToken caches a token for every instance.
func (c OATokenCache) PutToken(ctx context.Context, appID string, t wechatoa.Token) error {
	return c.N.PutToken(ctx, appID, store.Token{Value: t.Value, ExpiresAt: t.ExpiresAt})
}

// OAClient is the client of the official account appID whose app secret is
// the JSON {"oauth_app_secret"} under secretRef (the console's OAuth secret
// of the same account), read once per cold start, with the shared token.
func OAClient(ctx context.Context, sec *secrets.Loader, appID, secretRef, baseURL string, notes *store.Notifications) (*wechatoa.Client, error) {
	raw, err := sec.Load(ctx, secretRef)
	if err != nil {
		return nil, err
	}
	var s struct {
		Secret string `json:"oauth_app_secret"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.Secret == "" {
		return nil, errors.New(`not JSON {"oauth_app_secret": "…"}`)
	}
	return &wechatoa.Client{BaseURL: baseURL, AppID: appID, Secret: s.Secret, Cache: OATokenCache{N: notes},
		HTTP: &http.Client{Timeout: 5 * time.Second}}, nil
}
