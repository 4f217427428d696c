package store

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// putAtVersion is the condition (and its values) of a whole-item write that
// holds the version read: read 0 — the item must not exist yet; else it must
// still be at read. The item written carries read+1.
func putAtVersion(read int64) (*string, map[string]types.AttributeValue) {
	if read == 0 {
		return aws.String("attribute_not_exists(pk)"), nil
	}
	return aws.String("version = :v"), map[string]types.AttributeValue{":v": num(read)}
}
