package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/domain/notification"
)

// Alert claims the message of one event to one recipient that is not
// throttled (a company admin told of a failed refund or of reconciliation
// exceptions): the first call stores the (event, recipient) marker
// NOTIFYMSG#<event id>#<staff id>, queued, and returns it to send; a later
// call (a redelivered event) returns it again only while it is still queued
// (its send failed: try again), else with ok false. One conditional PutItem;
// a GetItem only when the marker exists.
func (n *Notifications) Alert(ctx context.Context, eventID, staffID, companyID, communityID string, m notification.Message, now time.Time) (Outgoing, bool, error) {
	key := "NOTIFYMSG#" + eventID + "#" + staffID
	it := toMsgItem(key, staffID, companyID, communityID, &m, now)
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return Outgoing{}, false, err
	}
	_, err = n.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(n.Table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if err == nil {
		return it.outgoing(), true, nil
	}
	if !isConditionFailed(err) {
		return Outgoing{}, false, err
	}
	var seen msgItem
	found, err := n.getItem(ctx, key, &seen)
	if err != nil {
		return Outgoing{}, false, err
	}
	if !found {
		return Outgoing{}, false, ErrConflict // gone between the two calls (its TTL): the redelivery tries again
	}
	return seen.outgoing(), seen.Status == MsgQueued, nil
}
