package template_test

import (
	"slices"
	"testing"

	"github.com/estatepay/estatepay/infra/template"
)

// streamReads are the actions a DynamoDB stream mapping makes with its
// function's role (TestPoliciesMatchWhatFunctionsDo leaves them out: the
// embedded DynamoDB sees them as the stack's, not the function's).
var streamReads = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

// TestStreamGrantsAreTheMappings holds the stream grants to the stream
// mappings (RelayFunction's OrdersTable, InvoiceFunction's InvoicesTable):
// a function is granted the four stream reads on exactly the streams its
// `Type: DynamoDB` events read (!GetAtt <Table>.StreamArn, nothing wider),
// and sqs:SendMessage on its on-failure queue. A missing grant is a mapping
// that never starts or a failure record that is never kept; an extra one a
// stream nobody reads.
func TestStreamGrantsAreTheMappings(t *testing.T) {
	tm := loadProduct(t)
	mapped := 0
	for _, f := range tm.Functions() {
		want := map[string]bool{} // tables whose stream f reads
		failures := map[string]bool{}
		for _, e := range f.Events {
			if e.Type != "DynamoDB" {
				continue
			}
			ev, err := tm.StreamEvent(e)
			if err != nil {
				t.Fatalf("%s.%s: %v", f.LogicalID, e.Name, err)
			}
			want[ev.Table] = true
			if ev.OnFailure != "" {
				failures[ev.OnFailure] = true
			}
			mapped++
		}
		granted := map[string][]string{} // table → stream actions
		sends := map[string]bool{}
		sts, _ := statements(f)
		for _, st := range sts {
			for _, a := range list(st["Action"]) {
				action, _ := a.(string)
				for _, res := range list(st["Resource"]) {
					id, attr, err := template.RefTarget(res)
					if slices.Contains(streamReads, action) {
						if err != nil || attr != "StreamArn" {
							t.Errorf("%s: %s on %v, not a table's StreamArn", f.LogicalID, action, res)
							continue
						}
						granted[id] = append(granted[id], action)
					} else if action == "sqs:SendMessage" && err == nil {
						sends[id] = true
					} else if err == nil && attr == "StreamArn" {
						t.Errorf("%s: %s on %s's stream", f.LogicalID, action, id)
					}
				}
			}
		}
		for table := range want {
			got := slices.Sorted(slices.Values(granted[table]))
			if !slices.Equal(got, streamReads) {
				t.Errorf("%s reads %s's stream but is granted %v, want %v", f.LogicalID, table, got, streamReads)
			}
		}
		for table := range granted {
			if !want[table] {
				t.Errorf("%s is granted %s's stream, which no event of its reads", f.LogicalID, table)
			}
		}
		for q := range failures {
			if !sends[q] {
				t.Errorf("%s: its stream mapping's on-failure queue %s is not granted sqs:SendMessage", f.LogicalID, q)
			}
		}
	}
	if mapped < 2 {
		t.Errorf("%d stream mappings; RelayFunction's and InvoiceFunction's expected", mapped)
	}
}
