package dynamo

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// jsonAttrValue is an attribute value in DynamoDB's wire JSON; exactly one
// field is set. Binary values are base64 (encoding/json's []byte form); B, M
// and L are pointers so that empty values survive omitempty.
type jsonAttrValue struct {
	S    *string                   `json:"S,omitempty"`
	N    *string                   `json:"N,omitempty"`
	B    *[]byte                   `json:"B,omitempty"`
	SS   []string                  `json:"SS,omitempty"`
	NS   []string                  `json:"NS,omitempty"`
	BS   [][]byte                  `json:"BS,omitempty"`
	M    *map[string]jsonAttrValue `json:"M,omitempty"`
	L    *[]jsonAttrValue          `json:"L,omitempty"`
	NULL *bool                     `json:"NULL,omitempty"`
	BOOL *bool                     `json:"BOOL,omitempty"`
}

func toJSONItem(item map[string]types.AttributeValue) map[string]jsonAttrValue {
	out := make(map[string]jsonAttrValue, len(item))
	for k, v := range item {
		out[k] = toJSONValue(v)
	}
	return out
}

func toJSONValue(v types.AttributeValue) jsonAttrValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return jsonAttrValue{S: &v.Value}
	case *types.AttributeValueMemberN:
		return jsonAttrValue{N: &v.Value}
	case *types.AttributeValueMemberB:
		b := v.Value
		if b == nil {
			b = []byte{}
		}
		return jsonAttrValue{B: &b}
	case *types.AttributeValueMemberSS:
		return jsonAttrValue{SS: v.Value}
	case *types.AttributeValueMemberNS:
		return jsonAttrValue{NS: v.Value}
	case *types.AttributeValueMemberBS:
		return jsonAttrValue{BS: v.Value}
	case *types.AttributeValueMemberM:
		m := toJSONItem(v.Value)
		return jsonAttrValue{M: &m}
	case *types.AttributeValueMemberL:
		l := make([]jsonAttrValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = toJSONValue(e)
		}
		return jsonAttrValue{L: &l}
	case *types.AttributeValueMemberNULL:
		t := true
		return jsonAttrValue{NULL: &t}
	case *types.AttributeValueMemberBOOL:
		b := v.Value
		return jsonAttrValue{BOOL: &b}
	}
	// Unknown union members cannot be stored; keep the item loadable.
	t := true
	return jsonAttrValue{NULL: &t}
}

func fromJSONItem(item map[string]jsonAttrValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		av, err := fromJSONValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func fromJSONValue(v jsonAttrValue) (types.AttributeValue, error) {
	switch {
	case v.S != nil:
		return &types.AttributeValueMemberS{Value: *v.S}, nil
	case v.N != nil:
		return &types.AttributeValueMemberN{Value: *v.N}, nil
	case v.B != nil:
		return &types.AttributeValueMemberB{Value: *v.B}, nil
	case v.SS != nil:
		return &types.AttributeValueMemberSS{Value: v.SS}, nil
	case v.NS != nil:
		return &types.AttributeValueMemberNS{Value: v.NS}, nil
	case v.BS != nil:
		return &types.AttributeValueMemberBS{Value: v.BS}, nil
	case v.M != nil:
		m, err := fromJSONItem(*v.M)
		return &types.AttributeValueMemberM{Value: m}, err
	case v.L != nil:
		l := make([]types.AttributeValue, len(*v.L))
		for i, e := range *v.L {
			av, err := fromJSONValue(e)
			if err != nil {
				return nil, err
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case v.NULL != nil:
		return &types.AttributeValueMemberNULL{Value: *v.NULL}, nil
	case v.BOOL != nil:
		return &types.AttributeValueMemberBOOL{Value: *v.BOOL}, nil
	}
	return nil, fmt.Errorf("empty attribute value")
}
