package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
)

// HouseNotices lists one house's notices, oldest first (one Query of the
// `community` index on the house's sort-key prefix; a house has a few
// notices, at most limit are read).
func (r *Houses) HouseNotices(ctx context.Context, h house.House, limit int32) ([]notice.Notice, error) {
	var out []notice.Notice
	var next string
	err := r.queryCommunity(ctx, CommunityPartition("N", h.CompanyID, h.CommunityID), house.SortKey(h.Building, h.Unit, h.Room)+"#", "", limit, &next,
		func(item map[string]types.AttributeValue) error {
			n, err := decodeNotice(item)
			if err == nil {
				out = append(out, n)
			}
			return err
		})
	return out, err
}
