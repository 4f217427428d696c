// Package streammap is the local Lambda event source mapping for DynamoDB
// streams. Run reads one table's stream in order, one batch in flight,
// invokes the function with the batch as an events.DynamoDBEvent, and on
// failure retries as Lambda does: from the first failed record with
// ReportBatchItemFailures, split in two with BisectBatchOnFunctionError,
// until MaximumRetryAttempts or MaximumRecordAgeInSeconds give up, when the
// on-failure destination receives Lambda's invocation record for the records
// skipped. Its position (the last sequence number done with) is checkpointed,
// so a restart resumes where it stopped: delivery is at least once.
package streammap

import "github.com/estatepay/estatepay/infra/local/dynamo"

// Record is one stream record of the embedded DynamoDB (Keys and images in
// DynamoDB JSON).
type Record = dynamo.StreamRecord

// Identity is a stream record's userIdentity (TTL deletions).
type Identity = dynamo.StreamIdentity

// Source is a table's stream.
type Source interface {
	// StreamArn is the table's latest stream ARN, "" if it has no stream.
	StreamArn(table string) string
	// ReadStream returns up to limit records with sequence numbers after
	// after, oldest first; after "" means from the oldest record retained.
	ReadStream(table, after string, limit int) ([]Record, error)
	// StreamChanged returns a channel closed at the table's next append.
	StreamChanged(table string) <-chan struct{}
}

// SeqLess orders sequence numbers (decimal strings without leading zeros).
func SeqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
