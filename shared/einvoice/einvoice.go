// Package einvoice is the port to an e-invoice platform (电子发票服务平台):
// issue a blue invoice for an order of ours, ask about it, reverse it with a
// red-letter invoice (红冲), and read the platform's signed result callback.
// The adapter is shared/einvoice/nuonuo (诺诺开放平台, 数电票); locally the
// sandbox infra/sandbox/einvoice plays the platform.
package einvoice

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Line is one invoice line as the platform takes it (amounts in fen).
type Line struct {
	Name    string // goods/service name (goodsName)
	TaxCode string // 税收分类编码, 19 digits (goodsCode)
	RateBP  int64  // basis points (taxRate "0.06")
	InclFen int64  // taxIncludedAmount
	ExclFen int64  // taxExcludedAmount
	TaxFen  int64  // tax
}

// IssueRequest is a blue invoice (蓝票).
type IssueRequest struct {
	OrderNo     string // our invoice id: the platform deduplicates on it
	SellerName  string
	SellerTaxNo string // the platform's userTax / salerTaxNum
	BuyerName   string
	BuyerTaxNo  string // "" for a person
	Email       string // the platform may mail too; we send our own
	Lines       []Line
	CallbackURL string
	At          time.Time // invoiceDate
}

// RedRequest reverses an issued invoice in full (数电票 快捷冲红: the
// 红字确认单 and the red invoice in one call).
type RedRequest struct {
	OrderNo     string // our id for the red invoice: <invoice id>R
	SellerTaxNo string
	BlueSerial  string // the blue invoice's platform serial
	BlueNumber  string // its 发票号码
	Reason      string // 冲红原因: "销货退回" (a refund)
	CallbackURL string
	At          time.Time
}

// State is an invoice's state at the platform.
type State string

const (
	Issuing State = "ISSUING"
	Issued  State = "ISSUED"
	Failed  State = "FAILED"
)

// Result is what the platform says about one invoice (query answer or callback).
type Result struct {
	OrderNo string // ours
	Serial  string // the platform's invoiceSerialNum
	State   State
	Number  string // 发票号码 (数电票: 20 digits)
	PDFURL  string
	OFDURL  string
	Message string // the platform's words on a failure
	Red     bool   // a red-letter invoice
}

// Errors. ErrRefused is permanent (the platform refused the content:
// wrong tax number, code …); anything else is worth retrying.
var (
	ErrRefused   = errors.New("einvoice: refused by the platform")
	ErrSignature = errors.New("einvoice: callback signature or timestamp invalid")
)

// Platform is the port.
type Platform interface {
	// Issue submits a blue invoice; the same OrderNo again returns the first
	// submission's serial (the platform deduplicates on it).
	Issue(ctx context.Context, r IssueRequest) (serial string, err error)
	// Red submits the red-letter reversal of an issued invoice, deduplicated
	// on its OrderNo.
	Red(ctx context.Context, r RedRequest) (serial string, err error)
	// Query asks about invoices by serial.
	Query(ctx context.Context, serials []string) ([]Result, error)
	// ParseCallback verifies a callback (signature and timestamp, against
	// now) and reads it.
	ParseCallback(h http.Header, query map[string]string, body []byte, now time.Time) (Result, error)
}
