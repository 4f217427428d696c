package web

// ReceiptInvoice is one e-invoice of a payment as its receipt shows it
// (issue 13).
type ReceiptInvoice struct {
	State      string // pending | issued | reversed | failed | cancelled
	StatusText string // 开票中, 已开票 …
	Title      string // 抬头
	Number     string // 发票号码, once issued
	PDFURL     string
	RedPDFURL  string // the red-letter invoice, once reversed
	Note       string
}

// InvoicePage is the 申请开票 form of a paid order's receipt.
type InvoicePage struct {
	Title, Community, Company string
	Back                      string // the receipt
	Action                    string // where the form posts
	Amount                    string // yuan
	CSRF                      string // the form's token (bound to the order and the payer)
	Kind, Name, TaxNo, Email  string // the values sent, shown again with an error
	Error                     string
}
