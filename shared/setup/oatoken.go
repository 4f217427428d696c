package setup

import (
	"context"

	"github.com/estatepay/estatepay/shared/notify/wechatoa"
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
