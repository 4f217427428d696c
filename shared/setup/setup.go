// Package setup holds the few constructors every function's main wires from:
// the store on its tables and the provider registry on its base URLs. Each
// main reads its own required environment with platform.Env (a missing
// variable fails the cold start, not the first request) and wires store →
// application → handler in a few explicit lines.
package setup

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/pay/providers"
	"github.com/estatepay/estatepay/shared/platform"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
)

// Store is the DynamoDB store on the given tables ("" for a table the
// function has no access to). It starts connecting to DynamoDB in the
// background (platform.Preconnect) so that the first request of a cold start
// does not wait for the handshake.
func Store(cfg aws.Config, directoryTable, ordersTable string) *store.Store {
	db := dynamodb.NewFromConfig(cfg)
	o := db.Options()
	if ep, err := o.EndpointResolverV2.ResolveEndpoint(context.Background(), dynamodb.EndpointParameters{Region: aws.String(o.Region), Endpoint: o.BaseEndpoint}); err == nil {
		platform.Preconnect(o.HTTPClient, ep.URI.String())
	}
	return &store.Store{DB: db, Directory: directoryTable, Orders: ordersTable}
}

// ProviderURLs are the providers' base URLs (template parameters); a
// function sets the ones it calls.
type ProviderURLs struct {
	WeChatPay, WeChatOpen, WeChatAPI, AlipayGateway, AlipayAuthorize string
}

// Providers is the provider registry: adapters built from interface records
// and their secrets, cached per warm instance. Its HTTP calls are counted
// for the metrics line ("ProviderCalls").
func Providers(sec *secrets.Loader, urls ProviderURLs) *providers.Registry {
	return &providers.Registry{
		Secrets:          sec,
		HTTPClient:       &http.Client{Timeout: 8 * time.Second, Transport: platform.CountingTransport("Provider", nil)},
		WeChatPayBaseURL: urls.WeChatPay,
		WeChatOpenBase:   urls.WeChatOpen,
		WeChatAPIBase:    urls.WeChatAPI,
		AlipayGatewayURL: urls.AlipayGateway,
		AlipayAuthorize:  urls.AlipayAuthorize,
	}
}
