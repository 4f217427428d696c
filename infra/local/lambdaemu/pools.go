package lambdaemu

import (
	"context"
	"errors"
	"fmt"
)

// Pools maps function names to their pools. Its Invoke method satisfies
// the gateway's Invoker interface.
type Pools map[string]*Pool

// Invoke invokes the named function and returns its raw response.
func (ps Pools) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	p, ok := ps[function]
	if !ok {
		return nil, fmt.Errorf("lambdaemu: function not found: %s", function)
	}
	body, _, err := p.Invoke(ctx, payload)
	return body, err
}

// Close closes every pool.
func (ps Pools) Close() error {
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
