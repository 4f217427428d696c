package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// Start runs handler as the Lambda function. After each invocation it writes one
// CloudWatch Embedded Metric Format line with the invocation's AWS API calls per
// service (e.g. "DynamoDBCalls"), so operators and `make bench` can see them.
func Start[In, Out any](handler func(context.Context, In) (Out, error)) {
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	lambda.Start(func(ctx context.Context, in In) (Out, error) {
		start := time.Now()
		out, err := handler(ctx, in)
		writeMetrics(name, time.Since(start), TakeAWSCalls())
		return out, err
	})
}

func writeMetrics(function string, d time.Duration, calls map[string]int64) {
	services := make([]string, 0, len(calls))
	for s := range calls {
		services = append(services, s)
	}
	sort.Strings(services)
	metrics := []map[string]string{{"Name": "HandlerMillis", "Unit": "Milliseconds"}}
	doc := map[string]any{
		"function":      function,
		"HandlerMillis": float64(d.Microseconds()) / 1000,
	}
	for _, s := range services {
		key := s + "Calls"
		doc[key] = calls[s]
		metrics = append(metrics, map[string]string{"Name": key, "Unit": "Count"})
	}
	doc["_aws"] = map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "estatepay",
			"Dimensions": [][]string{{"function"}},
			"Metrics":    metrics,
		}},
	}
	b, err := json.Marshal(doc)
	if err == nil {
		fmt.Fprintln(os.Stdout, string(b))
	}
}
