package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	snapshotVersion = 1
	scanPageSize    = 500
	batchWriteMax   = 25
	maxBatchRetries = 8
)

// snapshotFile holds every table's items in DynamoDB JSON
// ({"S":"..."}, {"N":"..."}, {"M":{...}}, ...).
type snapshotFile struct {
	Version int                                   `json:"version"`
	Tables  map[string][]map[string]jsonAttrValue `json:"tables"`
}

// Snapshot scans every table through the DynamoDB API and writes all items
// to path as JSON, atomically (temp file in the same directory + rename).
func (s *Server) Snapshot(ctx context.Context, path string) error {
	c := Client(s.url)
	names, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		return fmt.Errorf("dynamo: list tables: %w", err)
	}
	snap := snapshotFile{Version: snapshotVersion, Tables: map[string][]map[string]jsonAttrValue{}}
	for _, name := range names.TableNames {
		items := []map[string]jsonAttrValue{}
		p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(name), Limit: aws.Int32(scanPageSize)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("dynamo: scan %s: %w", name, err)
			}
			for _, it := range page.Items {
				items = append(items, toJSONItem(it))
			}
		}
		snap.Tables[name] = items
	}
	return writeFileAtomic(path, snap)
}

func writeFileAtomic(path string, v any) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	enc := json.NewEncoder(tmp)
	if err := enc.Encode(v); err != nil {
		tmp.Close()
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dynamo: snapshot: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// Restore loads the items of a snapshot file with BatchWriteItem, retrying
// unprocessed items. The tables must exist (call CreateTables first); items
// with the same key are overwritten, other existing items are kept. A
// missing file is not an error (fresh start).
func (s *Server) Restore(ctx context.Context, path string) error {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dynamo: restore: %w", err)
	}
	var snap snapshotFile
	if err := json.Unmarshal(raw, &snap); err != nil {
		return fmt.Errorf("dynamo: restore %s: %w", path, err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("dynamo: restore %s: version %d, want %d", path, snap.Version, snapshotVersion)
	}
	c := Client(s.url)
	names := make([]string, 0, len(snap.Tables))
	for n := range snap.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		items := snap.Tables[name]
		for start := 0; start < len(items); start += batchWriteMax {
			end := min(start+batchWriteMax, len(items))
			reqs := make([]types.WriteRequest, 0, end-start)
			for _, it := range items[start:end] {
				item, err := fromJSONItem(it)
				if err != nil {
					return fmt.Errorf("dynamo: restore %s: %w", name, err)
				}
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
			}
			if err := batchWrite(ctx, c, map[string][]types.WriteRequest{name: reqs}); err != nil {
				return fmt.Errorf("dynamo: restore %s: %w", name, err)
			}
		}
	}
	return nil
}

// batchWrite writes with BatchWriteItem and retries UnprocessedItems with
// exponential backoff.
func batchWrite(ctx context.Context, c *dynamodb.Client, reqs map[string][]types.WriteRequest) error {
	backoff := 10 * time.Millisecond
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > maxBatchRetries {
			return fmt.Errorf("items still unprocessed after %d retries", maxBatchRetries)
		}
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			backoff *= 2
		}
		out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: reqs})
		if err != nil {
			return err
		}
		reqs = out.UnprocessedItems
	}
	return nil
}
