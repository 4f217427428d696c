package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
)

// The report's "fanout" and "settlement" keys are contracts (README,
// .local/bench.json): their names must not drift.
func TestFanoutAndSettlementKeys(t *testing.T) {
	rep := &Report{Fanout: &FanoutResult{Events: 500, Seconds: 2.5, EventsPerSecond: 200, MessagesSent: 1, Recipients: 1},
		Settlement:         &SyntheticSettleResult{Orders: 1000000, Seconds: 20, PeakMiB: 11.8, RatioToRead: 3.2, ReadSeconds: 6.25},
		SettlementDynamoDB: &SettleResult{Orders: 20000, Seconds: 23, PeakMiB: 11.2, RatioToRead: 3.78, ReadSeconds: 6.1}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]string{"fanout": {"events", "seconds", "events_per_second"}, "settlement": {"orders", "seconds", "peak_mib", "ratio_to_read"}} {
		var obj map[string]any
		if err := json.Unmarshal(got[key], &obj); err != nil {
			t.Fatalf("%s: %s: %v", key, got[key], err)
		}
		for _, k := range want {
			if _, ok := obj[k].(float64); !ok {
				t.Errorf("%s.%s missing or not a number in %s", key, k, got[key])
			}
		}
	}
	var sb strings.Builder
	printReport(&sb, rep)
	for _, line := range []string{"fan-out: 500 payment events", "200 events/s, 1 messages sent", "settlement: 1000000 synthetic orders", "ratio 3.20 (goal <= 1.5)", "settlement (embedded DynamoDB): 20000 orders"} {
		if !strings.Contains(sb.String(), line) {
			t.Errorf("printed report lacks %q:\n%s", line, sb.String())
		}
	}
	// Without them the keys are absent, not zero.
	b, _ = json.Marshal(&Report{})
	if keys := string(b); slices.ContainsFunc([]string{`"fanout"`, `"settlement"`, `"settlement_dynamodb"`}, func(k string) bool { return strings.Contains(keys, k) }) {
		t.Errorf("empty report has them: %s", keys)
	}
}

// The synthetic day answers the settler's query as the DynamoDB adapter
// does: every order once, in settle-index order within its shard, pages
// of the limit with "more" while a page fills up, nothing for another
// partition.
func TestSyntheticDayPagesLikeTheSettleIndex(t *testing.T) {
	const n = 1000
	d := newSyntheticDay(n, benchSyntheticMerchant)
	ctx := context.Background()
	seen := map[string]bool{}
	for s := range store.SettleShards {
		part := store.SettlePartition(domain.Alipay, benchSyntheticMerchant, benchSettleDay, s)
		after, last := "", ""
		for {
			os, more, err := d.SettledAfter(ctx, part, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range os {
				k := store.SettleSortKey(o.PaidAt, o.ID)
				if k <= last {
					t.Fatalf("shard %d: %q after %q", s, k, last)
				}
				if store.SettleShardOf(o.ID) != s || o.Status != order.Paid || o.MerchantID != benchSyntheticMerchant || string(o.BusinessDay) != benchSettleDay {
					t.Fatalf("shard %d: %+v", s, o)
				}
				last, seen[o.ID] = k, true
			}
			if more != (len(os) == 7) {
				t.Fatalf("more = %v with %d orders", more, len(os))
			}
			if !more {
				break
			}
			after = last
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct orders, want %d", len(seen), n)
	}
	if os, _, _ := d.SettledAfter(ctx, store.SettlePartition(domain.Alipay, "other", benchSettleDay, 0), "", 7); len(os) != 0 {
		t.Fatalf("another merchant's partition: %d orders", len(os))
	}
}

// A million orders stay inside the day, in order (i × 24h overflows int64
// nanoseconds past ~106,000 orders).
func TestBenchSettleOrdersSpanTheDay(t *testing.T) {
	const n = 1_000_000
	day := newSyntheticDay(1, benchSyntheticMerchant).day
	prev := benchSettleOrder(day, benchSyntheticMerchant, 0, n)
	for _, i := range []int{1, 106_752, 500_000, 999_998, n - 1} {
		o := benchSettleOrder(day, benchSyntheticMerchant, i, n)
		if string(o.BusinessDay) != benchSettleDay || !o.PaidAt.After(prev.PaidAt) {
			t.Fatalf("order %d paid %s (day %s) after %s", i, o.PaidAt, o.BusinessDay, prev.PaidAt)
		}
		prev = o
	}
}
