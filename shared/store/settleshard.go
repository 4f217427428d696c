package store

import "strconv"

// SettleShardOf is the settle index shard (0 … SettleShards-1) an order's
// payment is written to: the last part of its SettlePartition.
func SettleShardOf(orderID string) int {
	n, _ := strconv.Atoi(shard(orderID, SettleShards))
	return n
}
