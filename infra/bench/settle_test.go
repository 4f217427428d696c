package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The report's "fanout" and "settlement" keys are contracts (README,
// .local/bench.json): their names must not drift.
func TestFanoutAndSettlementKeys(t *testing.T) {
	rep := &Report{Fanout: &FanoutResult{Events: 500, Seconds: 2.5, EventsPerSecond: 200, MessagesSent: 1, Recipients: 1},
		Settlement: &SettleResult{Orders: 20000, Seconds: 20, PeakMiB: 11.8, RatioToRead: 3.2, ReadSeconds: 6.25}}
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
	for _, line := range []string{"fan-out: 500 payment events", "200 events/s, 1 messages sent", "settlement: 20000 orders", "ratio 3.20 (goal <= 1.5)"} {
		if !strings.Contains(sb.String(), line) {
			t.Errorf("printed report lacks %q:\n%s", line, sb.String())
		}
	}
	// Without them the keys are absent, not zero.
	b, _ = json.Marshal(&Report{})
	if keys := string(b); slices.ContainsFunc([]string{`"fanout"`, `"settlement"`}, func(k string) bool { return strings.Contains(keys, k) }) {
		t.Errorf("empty report has them: %s", keys)
	}
}
