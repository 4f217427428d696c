package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain/invoice"
)

// Invoices is the InvoicesTable repository (issue 13, 电子发票). Its items:
//
//	pk INV#<order id>, sk <seq, 3 digits>   one invoice of an order (the first
//	                         a resident asks for is 001; a re-issue after a
//	                         partial refund 002 …). Created with ONE
//	                         conditional Put (attribute_not_exists): one
//	                         request → one invoice, whatever is retried.
//	                         While the schedule has work on it (submit, ask
//	                         again, red-letter), the sparse index "due"
//	                         holds it: due_pk INVDUE, due_at = next check.
//	pk INVSET#<company>, sk A   the company's invoicing settings (version).
//
// Every change is a conditional Put at the version read, its status moving
// only along the aggregate's transition table (stateWrite).
type Invoices struct {
	DB    *dynamodb.Client
	Table string
}

const invoiceDue = "INVDUE"

type invoiceLineItem struct {
	Name    string `dynamodbav:"name"`
	TaxCode string `dynamodbav:"tax_code"`
	Rate    int64  `dynamodbav:"rate_bp"`
	InclFen int64  `dynamodbav:"incl_fen"`
	ExclFen int64  `dynamodbav:"excl_fen"`
	TaxFen  int64  `dynamodbav:"tax_fen"`
	FeeItem string `dynamodbav:"fee_item,omitempty"`
}

type invoiceItem struct {
	PK             string            `dynamodbav:"pk"`
	SK             string            `dynamodbav:"sk"`
	ID             string            `dynamodbav:"id"`
	OrderID        string            `dynamodbav:"order_id"`
	Seq            int               `dynamodbav:"seq"`
	CompanyID      string            `dynamodbav:"company_id"`
	CommunityID    string            `dynamodbav:"community_id"`
	TitleKind      string            `dynamodbav:"title_kind"`
	TitleName      string            `dynamodbav:"title_name"`
	TitleTaxNo     string            `dynamodbav:"title_tax_no,omitempty"`
	Email          string            `dynamodbav:"email"`
	SellerName     string            `dynamodbav:"seller_name"`
	SellerTaxNo    string            `dynamodbav:"seller_tax_no"`
	Lines          []invoiceLineItem `dynamodbav:"lines"`
	TotalFen       int64             `dynamodbav:"total_fen"`
	ExclFen        int64             `dynamodbav:"excl_fen"`
	TaxFen         int64             `dynamodbav:"tax_fen"`
	Replaces       string            `dynamodbav:"replaces,omitempty"`
	Status         string            `dynamodbav:"status"`
	Version        int64             `dynamodbav:"version"`
	CreatedAt      string            `dynamodbav:"created_at"`
	PlatformSerial string            `dynamodbav:"platform_serial,omitempty"`
	Number         string            `dynamodbav:"number,omitempty"`
	PDFURL         string            `dynamodbav:"pdf_url,omitempty"`
	IssuedAt       string            `dynamodbav:"issued_at,omitempty"`
	FailReason     string            `dynamodbav:"fail_reason,omitempty"`
	RedPending     bool              `dynamodbav:"red_pending,omitempty"`
	RedEventID     string            `dynamodbav:"red_event_id,omitempty"`
	RedKeepFen     int64             `dynamodbav:"red_keep_fen,omitempty"`
	RedSerial      string            `dynamodbav:"red_serial,omitempty"`
	RedNumber      string            `dynamodbav:"red_number,omitempty"`
	RedPDFURL      string            `dynamodbav:"red_pdf_url,omitempty"`
	ReversedAt     string            `dynamodbav:"reversed_at,omitempty"`
	Attempts       int               `dynamodbav:"attempts,omitempty"`
	Emailed        bool              `dynamodbav:"emailed,omitempty"`
	EmailClaimedAt string            `dynamodbav:"email_claimed_at,omitempty"`
	DuePK          string            `dynamodbav:"due_pk,omitempty"`
	DueAt          string            `dynamodbav:"due_at,omitempty"`
}

func invoiceKey(orderID string, seq int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("INV#" + orderID), "sk": str(fmt.Sprintf("%03d", seq))}
}

func encodeInvoice(inv invoice.Invoice) (map[string]types.AttributeValue, error) {
	it := invoiceItem{PK: "INV#" + inv.OrderID, SK: fmt.Sprintf("%03d", inv.Seq), ID: inv.ID, OrderID: inv.OrderID, Seq: inv.Seq,
		CompanyID: inv.CompanyID, CommunityID: inv.CommunityID, TitleKind: string(inv.Title.Kind), TitleName: inv.Title.Name,
		TitleTaxNo: inv.Title.TaxNo, Email: inv.Email, SellerName: inv.SellerName, SellerTaxNo: inv.SellerTaxNo,
		TotalFen: inv.TotalFen, ExclFen: inv.ExclFen, TaxFen: inv.TaxFen, Replaces: inv.Replaces, Status: string(inv.Status),
		Version: inv.Version, CreatedAt: ts(inv.CreatedAt), PlatformSerial: inv.PlatformSerial, Number: inv.Number,
		PDFURL: inv.PDFURL, IssuedAt: ts(inv.IssuedAt), FailReason: inv.FailReason, RedPending: inv.RedPending,
		RedEventID: inv.RedEventID, RedKeepFen: inv.RedKeepFen, RedSerial: inv.RedSerial, RedNumber: inv.RedNumber,
		RedPDFURL: inv.RedPDFURL, ReversedAt: ts(inv.ReversedAt), Attempts: inv.Attempts, Emailed: inv.Emailed, EmailClaimedAt: ts(inv.EmailClaimedAt)}
	for _, l := range inv.Lines {
		it.Lines = append(it.Lines, invoiceLineItem{Name: l.Name, TaxCode: l.TaxCode, Rate: int64(l.Rate), InclFen: l.InclFen, ExclFen: l.ExclFen, TaxFen: l.TaxFen, FeeItem: l.FeeItem})
	}
	if !inv.NextCheckAt.IsZero() {
		it.DuePK, it.DueAt = invoiceDue, ts(inv.NextCheckAt)
	}
	return attributevalue.MarshalMap(it)
}

func decodeInvoice(raw map[string]types.AttributeValue) (invoice.Invoice, error) {
	var it invoiceItem
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return invoice.Invoice{}, err
	}
	inv := invoice.Invoice{ID: it.ID, OrderID: it.OrderID, Seq: it.Seq, CompanyID: it.CompanyID, CommunityID: it.CommunityID,
		Title: invoice.Title{Kind: invoice.TitleKind(it.TitleKind), Name: it.TitleName, TaxNo: it.TitleTaxNo}, Email: it.Email,
		SellerName: it.SellerName, SellerTaxNo: it.SellerTaxNo, TotalFen: it.TotalFen, ExclFen: it.ExclFen, TaxFen: it.TaxFen,
		Replaces: it.Replaces, Status: invoice.Status(it.Status), Version: it.Version, CreatedAt: parseTS(it.CreatedAt),
		PlatformSerial: it.PlatformSerial, Number: it.Number, PDFURL: it.PDFURL, IssuedAt: parseTS(it.IssuedAt),
		FailReason: it.FailReason, RedPending: it.RedPending, RedEventID: it.RedEventID, RedKeepFen: it.RedKeepFen,
		RedSerial: it.RedSerial, RedNumber: it.RedNumber, RedPDFURL: it.RedPDFURL, ReversedAt: parseTS(it.ReversedAt),
		Attempts: it.Attempts, Emailed: it.Emailed, EmailClaimedAt: parseTS(it.EmailClaimedAt), NextCheckAt: parseTS(it.DueAt)}
	for _, l := range it.Lines {
		inv.Lines = append(inv.Lines, invoice.Line{Name: l.Name, TaxCode: l.TaxCode, Rate: invoice.Rate(l.Rate), InclFen: l.InclFen, ExclFen: l.ExclFen, TaxFen: l.TaxFen, FeeItem: l.FeeItem})
	}
	return inv, nil
}

func (r *Invoices) put(ctx context.Context, before *invoice.Invoice, after invoice.Invoice) error {
	item, err := encodeInvoice(after)
	if err != nil {
		return err
	}
	w := stateWrite[invoice.Status]{Table: r.Table, Item: item, New: before == nil, To: after.Status,
		Sources: invoice.From(after.Status), notAllowed: invoice.ErrNotAllowed}
	if before != nil {
		w.Version, w.From = before.Version, before.Status
	}
	p, err := w.put()
	if err != nil {
		return err
	}
	_, err = r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues})
	return err
}

// Create stores a new invoice: ONE conditional Put on its key. If the key
// is taken (a retried or second request for the same order), nothing is
// written and the stored invoice is returned with invoice.ErrExists.
func (r *Invoices) Create(ctx context.Context, inv invoice.Invoice) (invoice.Invoice, error) {
	err := r.put(ctx, nil, inv)
	if err == nil {
		return inv, nil
	}
	if !isConditionFailed(err) {
		return invoice.Invoice{}, err
	}
	got, gerr := r.Get(ctx, inv.OrderID, inv.Seq)
	if gerr != nil {
		return invoice.Invoice{}, gerr
	}
	return got, invoice.ErrExists
}

// Get reads one invoice.
func (r *Invoices) Get(ctx context.Context, orderID string, seq int) (invoice.Invoice, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), Key: invoiceKey(orderID, seq), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return invoice.Invoice{}, err
	}
	if len(res.Item) == 0 {
		return invoice.Invoice{}, invoice.ErrNotFound
	}
	return decodeInvoice(res.Item)
}

// GetByID reads the invoice with id <order id>-<seq> (the platform's orderNo).
func (r *Invoices) GetByID(ctx context.Context, id string) (invoice.Invoice, error) {
	orderID, seq, ok := SplitInvoiceID(id)
	if !ok {
		return invoice.Invoice{}, invoice.ErrNotFound
	}
	return r.Get(ctx, orderID, seq)
}

// SplitInvoiceID splits an invoice id into its order and sequence.
func SplitInvoiceID(id string) (orderID string, seq int, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil || n < 1 || n > 999 {
		return "", 0, false
	}
	return id[:i], n, true
}

// InvoiceOfKey is the order and sequence of the invoice item with key
// pk, sk (InvoicesTable's stream records); ok is false for other items
// (the settings).
func InvoiceOfKey(pk, sk string) (orderID string, seq int, ok bool) {
	orderID, found := strings.CutPrefix(pk, "INV#")
	if !found || orderID == "" || len(sk) != 3 {
		return "", 0, false
	}
	n, err := strconv.Atoi(sk)
	if err != nil || n < 1 {
		return "", 0, false
	}
	return orderID, n, true
}

// OfOrder lists an order's invoices, oldest first (one Query on its key).
func (r *Invoices) OfOrder(ctx context.Context, orderID string) ([]invoice.Invoice, error) {
	res, err := r.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(r.Table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("INV#" + orderID)}})
	if err != nil {
		return nil, err
	}
	return decodeInvoices(res.Items)
}

// Update reads the invoice, applies change and writes the result at the
// version read, re-reading and re-applying if it lost a race. A change that
// returns invoice.ErrNoChange writes nothing and is returned as is.
func (r *Invoices) Update(ctx context.Context, orderID string, seq int, change func(*invoice.Invoice) error) (invoice.Invoice, error) {
	for attempt := 0; ; attempt++ {
		before, err := r.Get(ctx, orderID, seq)
		if err != nil {
			return invoice.Invoice{}, err
		}
		after := before
		after.Lines = append([]invoice.Line(nil), before.Lines...)
		if err := change(&after); err != nil {
			return before, err
		}
		err = r.put(ctx, &before, after)
		if err == nil {
			return after, nil
		}
		if !isConditionFailed(err) || attempt >= 4 {
			return invoice.Invoice{}, err
		}
	}
}

// Due lists up to limit invoices whose next check is due at now (the sparse
// index "due": never a Scan), oldest first.
func (r *Invoices) Due(ctx context.Context, now time.Time, limit int32) ([]invoice.Invoice, error) {
	res, err := r.DB.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(r.Table), IndexName: aws.String("due"), Limit: aws.Int32(limit),
		KeyConditionExpression:    aws.String("due_pk = :d AND due_at <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": str(invoiceDue), ":now": str(ts(now))}})
	if err != nil {
		return nil, err
	}
	return decodeInvoices(res.Items)
}

type invoiceSettingsItem struct {
	PK              string                `dynamodbav:"pk"`
	SK              string                `dynamodbav:"sk"`
	CompanyID       string                `dynamodbav:"company_id"`
	Enabled         bool                  `dynamodbav:"enabled"`
	AllowFreeAmount bool                  `dynamodbav:"allow_free_amount"`
	SellerName      string                `dynamodbav:"seller_name"`
	SellerTaxNo     string                `dynamodbav:"seller_tax_no"`
	Items           []invoiceSettingEntry `dynamodbav:"items"`
	Default         invoiceSettingEntry   `dynamodbav:"default"`
	Version         int64                 `dynamodbav:"version"`
}

type invoiceSettingEntry struct {
	FeeItem string `dynamodbav:"fee_item"`
	Name    string `dynamodbav:"name"`
	TaxCode string `dynamodbav:"tax_code"`
	Rate    int64  `dynamodbav:"rate_bp"`
}

func toEntry(s invoice.ItemSetting) invoiceSettingEntry {
	return invoiceSettingEntry{FeeItem: s.FeeItem, Name: s.Name, TaxCode: s.TaxCode, Rate: int64(s.Rate)}
}

func fromEntry(e invoiceSettingEntry) invoice.ItemSetting {
	return invoice.ItemSetting{FeeItem: e.FeeItem, Name: e.Name, TaxCode: e.TaxCode, Rate: invoice.Rate(e.Rate)}
}

// ErrSettingsChanged: the settings were saved by someone else since they were read.
var ErrSettingsChanged = errors.New("store: invoicing settings changed since read")

// InvoiceSettings reads a company's invoicing settings (none stored:
// disabled, version 0).
func (r *Invoices) InvoiceSettings(ctx context.Context, companyID string) (invoice.Settings, error) {
	res, err := r.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": str("INVSET#" + companyID), "sk": str("A")}})
	if err != nil {
		return invoice.Settings{}, err
	}
	if len(res.Item) == 0 {
		return invoice.Settings{CompanyID: companyID}, nil
	}
	var it invoiceSettingsItem
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return invoice.Settings{}, err
	}
	s := invoice.Settings{CompanyID: companyID, Enabled: it.Enabled, AllowFreeAmount: it.AllowFreeAmount, SellerName: it.SellerName,
		SellerTaxNo: it.SellerTaxNo, Default: fromEntry(it.Default), Version: it.Version}
	for _, e := range it.Items {
		s.Items = append(s.Items, fromEntry(e))
	}
	return s, nil
}

// PutInvoiceSettings stores settings read at s.Version (0: none stored),
// as version s.Version+1; ErrSettingsChanged when someone saved in between.
func (r *Invoices) PutInvoiceSettings(ctx context.Context, s invoice.Settings) (invoice.Settings, error) {
	it := invoiceSettingsItem{PK: "INVSET#" + s.CompanyID, SK: "A", CompanyID: s.CompanyID, Enabled: s.Enabled, AllowFreeAmount: s.AllowFreeAmount,
		SellerName: s.SellerName, SellerTaxNo: s.SellerTaxNo, Default: toEntry(s.Default), Version: s.Version + 1, Items: []invoiceSettingEntry{}}
	for _, e := range s.Items {
		it.Items = append(it.Items, toEntry(e))
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return s, err
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(r.Table), Item: item}
	in.ConditionExpression, in.ExpressionAttributeValues = putAtVersion(s.Version)
	if _, err := r.DB.PutItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return s, ErrSettingsChanged
		}
		return s, err
	}
	s.Version++
	return s, nil
}

// decodeInvoices decodes a Query's invoice items, in order.
func decodeInvoices(items []map[string]types.AttributeValue) ([]invoice.Invoice, error) {
	out := make([]invoice.Invoice, 0, len(items))
	for _, raw := range items {
		inv, err := decodeInvoice(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}
