package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/paging"
)

// Houses and notices live in the BillsTable beside the bills:
//
//	HOUSE#<id>  / HOUSE    a house; comm_pk "H#<company>#<community>", comm_sk house.SortKey
//	NOTICE#<id> / NOTICE   a notice; comm_pk "N#<company>#<community>", comm_sk house.SortKey#created#id
//
// The `community` index lists a community's houses (in building, unit, room
// order, numbers as numbers) and notices; a prefix of the sort key narrows
// the listing to a building or a unit.
type Houses struct {
	DB    *dynamodb.Client
	Table string
}

// HouseRepo returns the houses and notices repository on the bills table.
func (s *Store) HouseRepo() *Houses { return &Houses{DB: s.DB, Table: s.Bills} }

type houseItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	ID          string `dynamodbav:"id"`
	CompanyID   string `dynamodbav:"company_id"`
	CommunityID string `dynamodbav:"community_id"`
	Building    string `dynamodbav:"building"`
	Unit        string `dynamodbav:"unit,omitempty"`
	Room        string `dynamodbav:"room"`
	OwnerName   string `dynamodbav:"owner_name,omitempty"`
	OwnerPhone  string `dynamodbav:"owner_phone,omitempty"`
	AreaM2      string `dynamodbav:"area_m2,omitempty"`
	CreatedAt   string `dynamodbav:"created_at"`
	UpdatedAt   string `dynamodbav:"updated_at"`
	CommPK      string `dynamodbav:"comm_pk"`
	CommSK      string `dynamodbav:"comm_sk"`
}

// CommunityPartition is the `community` index partition of a kind of item
// ("H" houses, "N" notices, "B" bills) of one community.
func CommunityPartition(kind, companyID, communityID string) string {
	return kind + "#" + companyID + "#" + communityID
}

func houseKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("HOUSE#" + id), "sk": str("HOUSE")}
}

// EncodeHouse is a house as stored (used by the importer's batch writes too).
func EncodeHouse(h house.House) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(houseItem{PK: "HOUSE#" + h.ID, SK: "HOUSE", ID: h.ID, CompanyID: h.CompanyID, CommunityID: h.CommunityID,
		Building: h.Building, Unit: h.Unit, Room: h.Room, OwnerName: h.OwnerName, OwnerPhone: h.OwnerPhone, AreaM2: h.AreaM2,
		CreatedAt: ts(h.CreatedAt), UpdatedAt: ts(h.UpdatedAt),
		CommPK: CommunityPartition("H", h.CompanyID, h.CommunityID), CommSK: house.SortKey(h.Building, h.Unit, h.Room)})
}

func decodeHouse(item map[string]types.AttributeValue) (house.House, error) {
	var it houseItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return house.House{}, fmt.Errorf("store: decode house: %w", err)
	}
	return house.House{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, Building: it.Building, Unit: it.Unit, Room: it.Room,
		OwnerName: it.OwnerName, OwnerPhone: it.OwnerPhone, AreaM2: it.AreaM2, CreatedAt: parseTS(it.CreatedAt), UpdatedAt: parseTS(it.UpdatedAt)}, nil
}

// PutHouse stores a house, creating it or replacing its owner details (its
// id is its place, so the place never changes). CreatedAt is kept.
func (r *Houses) PutHouse(ctx context.Context, h house.House) error {
	item, err := EncodeHouse(h)
	if err != nil {
		return err
	}
	// Keep the first created_at: a replace must not move it.
	if old, err := r.GetHouse(ctx, h.CompanyID, h.ID); err == nil {
		item["created_at"] = str(ts(old.CreatedAt))
	} else if err != house.ErrNotFound {
		return err
	}
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR company_id = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": str(h.CompanyID)}})
	if err != nil {
		return fmt.Errorf("store: put house %s: %w", h.ID, err)
	}
	return nil
}

// GetHouse reads a house of companyID; another company's house is ErrNotFound.
func (r *Houses) GetHouse(ctx context.Context, companyID, id string) (house.House, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: houseKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return house.House{}, fmt.Errorf("store: get house: %w", err)
	}
	if len(res.Item) == 0 {
		return house.House{}, house.ErrNotFound
	}
	h, err := decodeHouse(res.Item)
	if err != nil {
		return house.House{}, err
	}
	if h.CompanyID != companyID {
		return house.House{}, house.ErrNotFound
	}
	return h, nil
}

// Page is one page of a listing and the cursor of the next ("" at the end).
type Page[T any] = paging.Page[T]

// ListHouses lists a community's houses in building, unit, room order, from
// cursor (""), at most limit; building and unit (either may be "") narrow it.
func (r *Houses) ListHouses(ctx context.Context, companyID, communityID, building, unit, cursor string, limit int32) (Page[house.House], error) {
	var out Page[house.House]
	err := r.queryCommunity(ctx, CommunityPartition("H", companyID, communityID), prefixOf(building, unit), cursor, limit, &out.Next, func(item map[string]types.AttributeValue) error {
		h, err := decodeHouse(item)
		if err == nil {
			out.Items = append(out.Items, h)
		}
		return err
	})
	return out, err
}

// prefixOf is the comm_sk prefix for a building (and unit).
func prefixOf(building, unit string) string {
	if building == "" {
		return ""
	}
	return house.SortPrefix(building, unit)
}

func (r *Houses) queryCommunity(ctx context.Context, pk, prefix, cursor string, limit int32, next *string, each func(map[string]types.AttributeValue) error) error {
	in := &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String("community"),
		KeyConditionExpression:    aws.String("comm_pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": str(pk)}}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("comm_pk = :p AND begins_with(comm_sk, :s)")
		in.ExpressionAttributeValues[":s"] = str(prefix)
	}
	if cursor != "" {
		start, err := decodeCursor(cursor)
		if err != nil || start["comm_pk"] != pk {
			return ErrBadCursor
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range start {
			in.ExclusiveStartKey[k] = str(v)
		}
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	// One item more than the page: when it comes there is a next page, and
	// the cursor is the page's last item; when not, the page is the last.
	in.Limit = aws.Int32(limit + 1)
	res, err := r.DB.Query(ctx, in)
	if err != nil {
		return fmt.Errorf("store: community listing: %w", err)
	}
	items := res.Items
	if len(items) > int(limit) {
		items = items[:limit]
		last := items[limit-1]
		*next = encodeCursor(map[string]types.AttributeValue{"pk": last["pk"], "sk": last["sk"], "comm_pk": last["comm_pk"], "comm_sk": last["comm_sk"]})
	}
	for _, item := range items {
		if err := each(item); err != nil {
			return err
		}
	}
	return nil
}

func encodeCursor(key map[string]types.AttributeValue) string {
	m := map[string]string{}
	for k, v := range key {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			m[k] = s.Value
		}
	}
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (map[string]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

type noticeItem struct {
	PK          string   `dynamodbav:"pk"`
	SK          string   `dynamodbav:"sk"`
	ID          string   `dynamodbav:"id"`
	CompanyID   string   `dynamodbav:"company_id"`
	CommunityID string   `dynamodbav:"community_id"`
	HouseID     string   `dynamodbav:"house_id"`
	Building    string   `dynamodbav:"building"`
	Unit        string   `dynamodbav:"unit,omitempty"`
	Room        string   `dynamodbav:"room"`
	OwnerName   string   `dynamodbav:"owner_name,omitempty"`
	BillIDs     []string `dynamodbav:"bill_ids"`
	DueDate     string   `dynamodbav:"due_date"`
	CreatedAt   string   `dynamodbav:"created_at"`
	CreatedBy   string   `dynamodbav:"created_by"`
	CollectorID string   `dynamodbav:"collector_id,omitempty"`
	CommPK      string   `dynamodbav:"comm_pk"`
	CommSK      string   `dynamodbav:"comm_sk"`
}

func noticeKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("NOTICE#" + id), "sk": str("NOTICE")}
}

// CreateNotice stores a new notice once (its id is random: a collision is an error).
func (r *Houses) CreateNotice(ctx context.Context, n notice.Notice) error {
	item, err := attributevalue.MarshalMap(noticeItem{PK: "NOTICE#" + n.ID, SK: "NOTICE", ID: n.ID, CompanyID: n.CompanyID, CommunityID: n.CommunityID,
		HouseID: n.HouseID, Building: n.Building, Unit: n.Unit, Room: n.Room, OwnerName: n.OwnerName, BillIDs: n.BillIDs,
		DueDate: string(n.DueDate), CreatedAt: ts(n.CreatedAt), CreatedBy: n.CreatedBy, CollectorID: n.CollectorID,
		CommPK: CommunityPartition("N", n.CompanyID, n.CommunityID), CommSK: house.SortKey(n.Building, n.Unit, n.Room) + "#" + ts(n.CreatedAt) + "#" + n.ID})
	if err != nil {
		return err
	}
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err != nil {
		return fmt.Errorf("store: create notice: %w", err)
	}
	return nil
}

func decodeNotice(item map[string]types.AttributeValue) (notice.Notice, error) {
	var it noticeItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return notice.Notice{}, fmt.Errorf("store: decode notice: %w", err)
	}
	return notice.Notice{ID: it.ID, CompanyID: it.CompanyID, CommunityID: it.CommunityID, HouseID: it.HouseID, Building: it.Building,
		Unit: it.Unit, Room: it.Room, OwnerName: it.OwnerName, BillIDs: it.BillIDs, DueDate: calendar.Day(it.DueDate),
		CreatedAt: parseTS(it.CreatedAt), CreatedBy: it.CreatedBy, CollectorID: it.CollectorID}, nil
}

// GetNotice reads a notice by its id (the resident's QR names only the id;
// the console checks the company itself).
func (r *Houses) GetNotice(ctx context.Context, id string) (notice.Notice, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: noticeKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return notice.Notice{}, fmt.Errorf("store: get notice: %w", err)
	}
	if len(res.Item) == 0 {
		return notice.Notice{}, notice.ErrNotFound
	}
	return decodeNotice(res.Item)
}

// ListNotices lists a community's notices by house (then creation), narrowed
// to a building (and unit) when given.
func (r *Houses) ListNotices(ctx context.Context, companyID, communityID, building, unit, cursor string, limit int32) (Page[notice.Notice], error) {
	var out Page[notice.Notice]
	err := r.queryCommunity(ctx, CommunityPartition("N", companyID, communityID), prefixOf(building, unit), cursor, limit, &out.Next, func(item map[string]types.AttributeValue) error {
		n, err := decodeNotice(item)
		if err == nil {
			out.Items = append(out.Items, n)
		}
		return err
	})
	return out, err
}
