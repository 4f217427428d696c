package dynamo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Table declares a table as the SAM template does.
type Table struct {
	Name         string
	Attributes   map[string]string // attribute name → S | N | B (key attributes only)
	HashKey      string
	RangeKey     string // optional
	GSIs         []Index
	TTLAttribute string // optional; expired items are deleted (ttl.go)
	// StreamViewType enables the table's stream: KEYS_ONLY | NEW_IMAGE |
	// OLD_IMAGE | NEW_AND_OLD_IMAGES ("" = no stream).
	StreamViewType string
}

// Index declares a global secondary index.
type Index struct {
	Name             string
	HashKey          string
	RangeKey         string   // optional
	ProjectionType   string   // ALL (default) | KEYS_ONLY | INCLUDE
	NonKeyAttributes []string // for INCLUDE
}

// Client builds a DynamoDB client for url with static dummy credentials. The
// region comes from AWS_REGION / AWS_DEFAULT_REGION, else ap-southeast-1.
func Client(url string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       defaultRegion(),
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

func defaultRegion() string {
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "ap-southeast-1"
	}
	return region
}

// CreateTables creates the tables through the DynamoDB API. Tables that
// already exist are left as they are (their TTL setting is still applied).
func (s *Server) CreateTables(ctx context.Context, tables []Table) error {
	c := Client(s.url)
	for _, t := range tables {
		in, err := createTableInput(t)
		if err != nil {
			return err
		}
		_, err = c.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("dynamo: create table %s: %w", t.Name, err)
		}
		if t.TTLAttribute != "" {
			if _, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName: aws.String(t.Name),
				TimeToLiveSpecification: &types.TimeToLiveSpecification{
					AttributeName: aws.String(t.TTLAttribute), Enabled: aws.Bool(true),
				},
			}); err != nil {
				return fmt.Errorf("dynamo: TTL on %s: %w", t.Name, err)
			}
		}
	}
	return nil
}

func createTableInput(t Table) (*dynamodb.CreateTableInput, error) {
	if t.Name == "" || t.HashKey == "" {
		return nil, fmt.Errorf("dynamo: table %q needs a name and a hash key", t.Name)
	}
	used := map[string]bool{}
	keySchema := func(hash, rng string) []types.KeySchemaElement {
		used[hash] = true
		ks := []types.KeySchemaElement{{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash}}
		if rng != "" {
			used[rng] = true
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange})
		}
		return ks
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(t.Name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(t.HashKey, t.RangeKey),
	}
	if t.StreamViewType != "" {
		if !streamViewTypes[t.StreamViewType] {
			return nil, fmt.Errorf("dynamo: table %s: stream view type %q, want KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES", t.Name, t.StreamViewType)
		}
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(t.StreamViewType)}
	}
	for _, g := range t.GSIs {
		if g.Name == "" || g.HashKey == "" {
			return nil, fmt.Errorf("dynamo: table %s: index %q needs a name and a hash key", t.Name, g.Name)
		}
		p := &types.Projection{ProjectionType: types.ProjectionTypeAll}
		if g.ProjectionType != "" {
			p.ProjectionType = types.ProjectionType(g.ProjectionType)
		}
		if p.ProjectionType == types.ProjectionTypeInclude {
			p.NonKeyAttributes = g.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(g.Name),
			KeySchema:  keySchema(g.HashKey, g.RangeKey),
			Projection: p,
		})
	}
	for _, name := range sortedKeys(used) {
		typ, ok := t.Attributes[name]
		if !ok {
			return nil, fmt.Errorf("dynamo: table %s: key attribute %s has no type in Attributes", t.Name, name)
		}
		switch typ {
		case "S", "N", "B":
		default:
			return nil, fmt.Errorf("dynamo: table %s: attribute %s has type %q, want S, N or B", t.Name, name, typ)
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(name), AttributeType: types.ScalarAttributeType(typ),
		})
	}
	return in, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
