package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/bills/importfile"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
)

// Imports is the import jobs' store (bills.ImportStore) on the BillsTable:
//
//	IMPORT#<id> / JOB                        the job: state, progress, row errors
//	IMPORT#<id> / CHUNK#<n>                  checked rows n×ChunkRows…, gzipped JSON
//	IMPORTLOCK#<company>#<community> / LOCK  the job writing to the community, until
//
// Jobs and chunks expire (TTL expires_at) after JobRetention. Houses and
// bills are written with BatchWriteItem (25 a call, UnprocessedItems
// retried, Workers calls at a time) after a BatchGetItem of the same keys:
// houses keep their created_at, bills that exist are not written at all.
// BatchWriteItem takes no condition, so "create only if absent" rests on the
// community's lock: only the job holding it creates bills there, and
// nothing else creates bills.
type Imports struct {
	*Houses
	Workers int // parallel batch calls (default 8)
}

// ImportRepo returns the import store on the bills table.
func (s *Store) ImportRepo() *Imports { return &Imports{Houses: s.HouseRepo()} }

// JobRetention is how long an import job and its rows are kept.
const JobRetention = 30 * 24 * time.Hour

type jobItem struct {
	PK          string                `dynamodbav:"pk"`
	SK          string                `dynamodbav:"sk"`
	ID          string                `dynamodbav:"id"`
	CompanyID   string                `dynamodbav:"company_id"`
	CommunityID string                `dynamodbav:"community_id"`
	FileNames   []string              `dynamodbav:"file_names,omitempty"`
	Format      string                `dynamodbav:"format,omitempty"`
	State       bills.JobState        `dynamodbav:"state"`
	Houses      int                   `dynamodbav:"houses"`
	Bills       int                   `dynamodbav:"bills"`
	Total       int                   `dynamodbav:"total"`
	Written     int                   `dynamodbav:"written"`
	Created     int                   `dynamodbav:"created"`
	ChunkRows   int                   `dynamodbav:"chunk_rows"`
	Chunks      int                   `dynamodbav:"chunks"`
	ErrorCount  int                   `dynamodbav:"error_count"`
	Errors      []importfile.RowError `dynamodbav:"errors,omitempty"`
	By          string                `dynamodbav:"by"`
	CreatedAt   string                `dynamodbav:"created_at"`
	UpdatedAt   string                `dynamodbav:"updated_at"`
	ExpiresAt   int64                 `dynamodbav:"expires_at"`
}

// SaveJob writes a job whole (its runner holds the community's lock).
func (r *Imports) SaveJob(ctx context.Context, j bills.Job) error {
	item, err := attributevalue.MarshalMap(jobItem{PK: "IMPORT#" + j.ID, SK: "JOB", ID: j.ID, CompanyID: j.CompanyID, CommunityID: j.CommunityID,
		FileNames: j.FileNames, Format: j.Format, State: j.State, Houses: j.Houses, Bills: j.Bills, Total: j.Total, Written: j.Written,
		Created: j.Created, ChunkRows: j.ChunkRows, Chunks: j.Chunks, ErrorCount: j.ErrorCount, Errors: j.Errors, By: j.By,
		CreatedAt: ts(j.CreatedAt), UpdatedAt: ts(j.UpdatedAt), ExpiresAt: j.CreatedAt.Add(JobRetention).Unix()})
	if err != nil {
		return err
	}
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("store: save import job: %w", err)
	}
	return nil
}

// GetJob reads a job of companyID (another company's is ErrJobNotFound).
func (r *Imports) GetJob(ctx context.Context, companyID, id string) (bills.Job, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": str("IMPORT#" + id), "sk": str("JOB")}})
	if err != nil {
		return bills.Job{}, fmt.Errorf("store: get import job: %w", err)
	}
	var it jobItem
	if len(res.Item) == 0 {
		return bills.Job{}, bills.ErrJobNotFound
	}
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return bills.Job{}, fmt.Errorf("store: decode import job: %w", err)
	}
	if it.CompanyID != companyID {
		return bills.Job{}, bills.ErrJobNotFound
	}
	return bills.Job{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, FileNames: it.FileNames, Format: it.Format, State: it.State,
		Houses: it.Houses, Bills: it.Bills, Total: it.Total, Written: it.Written, Created: it.Created, ChunkRows: it.ChunkRows, Chunks: it.Chunks,
		ErrorCount: it.ErrorCount, Errors: it.Errors, By: it.By, CreatedAt: parseTS(it.CreatedAt), UpdatedAt: parseTS(it.UpdatedAt)}, nil
}

func chunkKey(jobID string, n int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("IMPORT#" + jobID), "sk": str(fmt.Sprintf("CHUNK#%05d", n))}
}

// PutChunk stores chunk n of a job's rows.
func (r *Imports) PutChunk(ctx context.Context, jobID string, n int, data []byte) error {
	item := chunkKey(jobID, n)
	item["data"] = &types.AttributeValueMemberB{Value: data}
	item["expires_at"] = num(time.Now().Add(JobRetention).Unix())
	if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}); err != nil {
		return fmt.Errorf("store: put import chunk: %w", err)
	}
	return nil
}

// GetChunk reads chunk n of a job's rows.
func (r *Imports) GetChunk(ctx context.Context, jobID string, n int) ([]byte, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: chunkKey(jobID, n), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("store: get import chunk: %w", err)
	}
	b, ok := res.Item["data"].(*types.AttributeValueMemberB)
	if !ok {
		return nil, fmt.Errorf("store: import %s chunk %d missing", jobID, n)
	}
	return b.Value, nil
}

func lockKey(companyID, communityID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("IMPORTLOCK#" + companyID + "#" + communityID), "sk": str("LOCK")}
}

// Lock: see bills.ImportStore. A conditional put: no lock, an expired one,
// or the holder's own.
func (r *Imports) Lock(ctx context.Context, companyID, communityID, holder string, until, now time.Time) error {
	item := lockKey(companyID, communityID)
	item["holder"], item["until"], item["expires_at"] = str(holder), num(until.UnixMilli()), num(until.Add(time.Hour).Unix())
	_, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #u < :now OR holder = :h"),
		ExpressionAttributeNames:  map[string]string{"#u": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.UnixMilli()), ":h": str(holder)}})
	if isConditionFailed(err) {
		return bills.ErrLocked
	}
	if err != nil {
		return fmt.Errorf("store: import lock: %w", err)
	}
	return nil
}

// Unlock releases the holder's lock (someone else's stays).
func (r *Imports) Unlock(ctx context.Context, companyID, communityID, holder string) error {
	_, err := r.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(r.Table), Key: lockKey(companyID, communityID),
		ConditionExpression:       aws.String("holder = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(holder)}})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("store: import unlock: %w", err)
	}
	return nil
}

// EachHouse calls fn with every house of the community.
func (r *Imports) EachHouse(ctx context.Context, companyID, communityID string, fn func(house.House) error) error {
	cursor := ""
	for {
		page, err := r.ListHouses(ctx, companyID, communityID, "", "", cursor, 500)
		if err != nil {
			return err
		}
		for _, h := range page.Items {
			if err := fn(h); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}

// WriteHouses: see bills.ImportStore.
func (r *Imports) WriteHouses(ctx context.Context, hs []house.House) (int, error) {
	return r.batches(ctx, len(hs), func(ctx context.Context, lo, hi int) (int, error) {
		keys := make([]map[string]types.AttributeValue, 0, hi-lo)
		for _, h := range hs[lo:hi] {
			keys = append(keys, houseKey(h.ID))
		}
		found, err := r.batchGet(ctx, keys, "pk, created_at")
		if err != nil {
			return 0, err
		}
		var puts []map[string]types.AttributeValue
		created := 0
		for _, h := range hs[lo:hi] {
			item, err := EncodeHouse(h)
			if err != nil {
				return 0, err
			}
			if old, ok := found["HOUSE#"+h.ID]; ok {
				item["created_at"] = old["created_at"]
			} else {
				created++
			}
			puts = append(puts, item)
		}
		return created, r.batchPut(ctx, puts)
	})
}

// WriteBills: see bills.ImportStore.
func (r *Imports) WriteBills(ctx context.Context, bs []bill.Bill) (int, error) {
	return r.batches(ctx, len(bs), func(ctx context.Context, lo, hi int) (int, error) {
		keys := make([]map[string]types.AttributeValue, 0, hi-lo)
		for _, b := range bs[lo:hi] {
			keys = append(keys, billKey(b.ID))
		}
		found, err := r.batchGet(ctx, keys, "pk")
		if err != nil {
			return 0, err
		}
		var puts []map[string]types.AttributeValue
		for _, b := range bs[lo:hi] {
			if _, ok := found["BILL#"+b.ID]; ok {
				continue
			}
			item, err := EncodeBill(b)
			if err != nil {
				return 0, err
			}
			puts = append(puts, item)
		}
		return len(puts), r.batchPut(ctx, puts)
	})
}

// batchSize is BatchWriteItem's limit.
const batchSize = 25

// batches runs fn over [lo, hi) slices of at most batchSize of n items,
// Workers at a time, and sums what they return; the first error stops it.
func (r *Imports) batches(ctx context.Context, n int, fn func(ctx context.Context, lo, hi int) (int, error)) (int, error) {
	workers := r.Workers
	if workers <= 0 {
		workers = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		total    int
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				c, err := fn(ctx, lo, min(lo+batchSize, n))
				mu.Lock()
				total += c
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for lo := 0; lo < n; lo += batchSize {
		select {
		case next <- lo:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return total, firstErr
}

// maxBatchTries bounds the retries of unprocessed keys and items.
const maxBatchTries = 8

// ErrThrottled: DynamoDB kept items unprocessed past maxBatchTries.
var ErrThrottled = errors.New("store: batch still unprocessed after retries")

func backoff(ctx context.Context, try int) error {
	t := time.NewTimer(time.Duration(1<<min(try, 6)) * 25 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// batchGet reads keys (≤ 100) with BatchGetItem, retrying unprocessed keys,
// and returns the items found by pk.
func (r *Imports) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, projection string) (map[string]map[string]types.AttributeValue, error) {
	found := map[string]map[string]types.AttributeValue{}
	req := map[string]types.KeysAndAttributes{r.Table: {Keys: keys, ProjectionExpression: aws.String(projection), ConsistentRead: aws.Bool(true)}}
	for try := 0; len(req) > 0; try++ {
		if try > 0 {
			if try >= maxBatchTries {
				return nil, ErrThrottled
			}
			if err := backoff(ctx, try); err != nil {
				return nil, err
			}
		}
		res, err := r.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("store: batch get: %w", err)
		}
		for _, item := range res.Responses[r.Table] {
			if pk, ok := item["pk"].(*types.AttributeValueMemberS); ok {
				found[pk.Value] = item
			}
		}
		req = res.UnprocessedKeys
	}
	return found, nil
}

// batchPut writes items (≤ 25) with BatchWriteItem, retrying unprocessed ones.
func (r *Imports) batchPut(ctx context.Context, items []map[string]types.AttributeValue) error {
	if len(items) == 0 {
		return nil
	}
	reqs := make([]types.WriteRequest, len(items))
	for i, it := range items {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
	}
	req := map[string][]types.WriteRequest{r.Table: reqs}
	for try := 0; len(req) > 0; try++ {
		if try > 0 {
			if try >= maxBatchTries {
				return ErrThrottled
			}
			if err := backoff(ctx, try); err != nil {
				return err
			}
		}
		res, err := r.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
		if err != nil {
			return fmt.Errorf("store: batch write: %w", err)
		}
		req = res.UnprocessedItems
	}
	return nil
}
