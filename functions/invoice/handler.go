package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/domain/refund"
	"github.com/estatepay/estatepay/shared/einvoice"
	"github.com/estatepay/estatepay/shared/events"
	"github.com/estatepay/estatepay/shared/invoicing"
	"github.com/estatepay/estatepay/shared/web"
)

// Handler is InvoiceFunction: the platform's callback (POST
// /notify/einvoice), the schedule ({"job":"sweep"}), the refund events of
// InvoiceEventsQueue and InvoicesTable's stream (new requests, stream.go).
type Handler struct {
	Svc      *invoicing.Service
	Platform einvoice.Platform
	Now      func() time.Time
	Log      *slog.Logger
}

// Handle dispatches one invocation by its shape.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		RouteKey string `json:"routeKey"`
		Job      string `json:"job"`
		Records  []struct {
			EventSource string `json:"eventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	switch {
	case probe.RouteKey != "":
		var req web.Request
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		return h.Notify(ctx, req), nil
	case probe.Job == "sweep":
		n, err := h.Svc.Sweep(ctx)
		return map[string]int{"handled": n}, err
	case len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:dynamodb":
		var in lambdaevents.DynamoDBEvent
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		return h.Stream(ctx, in), nil
	case probe.Records != nil:
		var in lambdaevents.SQSEvent
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, err
		}
		return events.EachInOrder(ctx, in, h.event), nil
	}
	return nil, errors.New("invoice: unknown invocation")
}

// ack is the answer the platform expects ("0000": received, do not send again).
func ack(status int, code, msg string) web.Response {
	return web.JSON(status, map[string]string{"status": code, "message": msg})
}

// Notify verifies and applies a platform callback: a bad signature or a
// stale timestamp is refused (401) and changes nothing; a failure to apply
// (or to send the e-mail) answers 500, so the platform calls again.
func (h *Handler) Notify(ctx context.Context, req web.Request) web.Response {
	if req.RouteKey != "POST /notify/einvoice" {
		return web.Error(http.StatusNotFound, "not_found", "未找到")
	}
	body, err := web.Body(req)
	if err != nil {
		return ack(http.StatusBadRequest, "9999", "请求体无效")
	}
	hdr := http.Header{}
	for k, v := range req.Headers {
		hdr.Set(k, v)
	}
	res, err := h.Platform.ParseCallback(hdr, req.QueryStringParameters, body, h.Now())
	if err != nil {
		h.Log.WarnContext(ctx, "einvoice callback refused", "err", err)
		return ack(http.StatusUnauthorized, "9999", "签名验证失败")
	}
	if err := h.Svc.Apply(ctx, res); err != nil {
		h.Log.ErrorContext(ctx, "einvoice callback not applied", "order_no", res.OrderNo, "err", err)
		return ack(http.StatusInternalServerError, "9999", "处理失败，请重试")
	}
	return ack(http.StatusOK, "0000", "成功")
}

// event handles one message of InvoiceEventsQueue: refunds reverse the
// order's invoice; every other event is not ours.
func (h *Handler) event(ctx context.Context, m lambdaevents.SQSMessage) error {
	var ev order.Event
	if err := json.Unmarshal([]byte(m.Body), &ev); err != nil {
		// Poison: failed until the queue's redrive moves it to the DLQ (alarm).
		return fmt.Errorf("invoice event %s is not JSON: %w", m.MessageId, err)
	}
	switch ev.Type {
	case refund.EventSucceeded, order.EventRefunded:
		if ev.ID == "" || ev.OrderID == "" {
			return fmt.Errorf("invoice event %s without event_id or order_id", m.MessageId)
		}
		return h.Svc.Refund(ctx, ev)
	}
	return nil
}
