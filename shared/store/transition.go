package store

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// stateWrite is one aggregate's stored change: the item after it, and what
// it was read as (New: nothing was there).
type stateWrite[S ~string] struct {
	Table    string
	Item     map[string]types.AttributeValue
	New      bool
	Version  int64 // the version it was read at
	From, To S     // the status it was read in and the one it moves to
	// Sources are the statuses the aggregate's transition table lets To be
	// reached from (its From(To)); notAllowed wraps the refusal.
	Sources    []S
	notAllowed error
}

// put renders the change as a conditional Put: a new item only where the key
// is free; a change only at the version read and, when the status moves,
// only from a status the aggregate's transition table allows — the one state
// machine, rendered into the condition.
func (w stateWrite[S]) put() (*types.Put, error) {
	var cond expression.ConditionBuilder
	if w.New {
		cond = expression.AttributeNotExists(expression.Name("pk"))
	} else {
		cond = expression.Name("version").Equal(expression.Value(w.Version))
		if w.To != w.From {
			if len(w.Sources) == 0 {
				return nil, fmt.Errorf("%w: nothing moves to %s", w.notAllowed, w.To)
			}
			ops := make([]expression.OperandBuilder, 0, len(w.Sources))
			for _, s := range w.Sources[1:] {
				ops = append(ops, expression.Value(s))
			}
			cond = cond.And(expression.Name("status").In(expression.Value(w.Sources[0]), ops...))
		}
	}
	ex, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, err
	}
	return &types.Put{TableName: aws.String(w.Table), Item: w.Item, ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()}, nil
}
