package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/sheet"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Houses, fee items, bills and their import (issue 8 items 1, 6, 7; X6):
//
//	GET  /admin/api/communities/{id}/fee-items            fee items
//	POST /admin/api/communities/{id}/fee-items            add or edit one (by name)
//	GET  /admin/api/communities/{id}/houses               ?building=&unit=&cursor=&limit=
//	GET  /admin/api/communities/{id}/bills                ?status=&period=&building=&unit=&house=&cursor=&limit=
//	GET  /admin/api/communities/{id}/bills.csv            the same filters, every bill (gzip when accepted)
//	GET  /admin/api/houses/{id}/bills                     one house's bills
//	POST /admin/api/communities/{id}/imports              upload: multipart (houses, bills) or a raw CSV/XLSX body (?kind=houses|bills)
//	GET  /admin/api/imports/{id}                          the job: state, progress, row errors
//	POST /admin/api/imports/{id}/run                      write on for a few seconds (the console page polls it)
func init() {
	register(
		route{method: "GET", pattern: "/admin/api/communities/{id}/fee-items", action: ActBillsView, handle: (*Handler).apiFeeItems},
		route{method: "POST", pattern: "/admin/api/communities/{id}/fee-items", action: ActBillsImport, handle: (*Handler).apiPutFeeItem},
		route{method: "GET", pattern: "/admin/api/communities/{id}/houses", action: ActBillsView, handle: (*Handler).apiHouses},
		route{method: "GET", pattern: "/admin/api/communities/{id}/bills", action: ActBillsView, handle: (*Handler).apiBills},
		route{method: "GET", pattern: "/admin/api/communities/{id}/bills.csv", action: ActBillsView, handle: (*Handler).apiBillsCSV},
		route{method: "GET", pattern: "/admin/api/houses/{hid}/bills", action: ActBillsView, handle: (*Handler).apiHouseBills},
		route{method: "POST", pattern: "/admin/api/communities/{id}/imports", action: ActBillsImport, upload: true, handle: (*Handler).apiImport},
		route{method: "GET", pattern: "/admin/api/imports/{jid}", action: ActBillsImport, handle: (*Handler).apiImportJob},
		route{method: "POST", pattern: "/admin/api/imports/{jid}/run", action: ActBillsImport, handle: (*Handler).apiImportRun},
	)
}

// Limits of the import routes.
const (
	// runBudget is how long one run request writes (AdminFunction's timeout
	// is 10 s; API Gateway's 30 s).
	runBudget = 5 * time.Second
	// MaxBillsExportBytes caps one CSV export as it travels (gzip, then
	// base64 in the Lambda response): under the 6 MB response limit.
	MaxBillsExportBytes = 4 << 20
)

func (h *Handler) importer() *bills.Importer {
	return &bills.Importer{Store: h.Store.ImportRepo(), Now: h.now, NewID: func() string { return newID("imp") }}
}

func (h *Handler) now() time.Time {
	return time.Now()
}

// FeeItemJSON is a fee item in the API (amounts in fen and yuan).
type FeeItemJSON struct {
	Name      string     `json:"name"`
	FixedFen  int64      `json:"fixed_fen,omitempty"`
	PerM2Fen  int64      `json:"per_m2_fen,omitempty"`
	Cycle     bill.Cycle `json:"cycle"`
	CycleName string     `json:"cycle_name"`
	Price     string     `json:"price"` // "120.00 元" or "2.50 元/㎡"
}

func feeItemJSON(f bill.FeeItem) FeeItemJSON {
	out := FeeItemJSON{Name: f.Name, FixedFen: f.FixedFen, PerM2Fen: f.PerM2Fen, Cycle: f.Cycle, CycleName: f.Cycle.Name()}
	if f.FixedFen > 0 {
		out.Price = domain.FormatYuan(f.FixedFen) + " 元"
	} else {
		out.Price = domain.FormatYuan(f.PerM2Fen) + " 元/㎡"
	}
	return out
}

func (h *Handler) apiFeeItems(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	items, err := h.Store.HouseRepo().FeeItems(ctx, cm.CompanyID, cm.ID)
	if err != nil {
		return h.internal(ctx, c, "fee items", err)
	}
	out := make([]FeeItemJSON, 0, len(items))
	for _, f := range items {
		out = append(out, feeItemJSON(f))
	}
	return web.JSON(http.StatusOK, map[string]any{"community_id": cm.ID, "fee_items": out})
}

// apiPutFeeItem adds or replaces a fee item: JSON {"name", "fixed" or
// "per_m2" (yuan), "cycle"}.
func (h *Handler) apiPutFeeItem(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	var in struct{ Name, Fixed, PerM2, Cycle string }
	var raw map[string]string
	if err := json.Unmarshal(c.body, &raw); err != nil {
		return web.Error(http.StatusBadRequest, "invalid", "请求内容应为 JSON")
	}
	in.Name, in.Fixed, in.PerM2, in.Cycle = raw["name"], raw["fixed"], raw["per_m2"], raw["cycle"]
	f := bill.FeeItem{CompanyID: cm.CompanyID, CommunityID: cm.ID, Name: in.Name, Cycle: bill.Cycle(in.Cycle)}
	for _, p := range []struct {
		s  string
		to *int64
	}{{in.Fixed, &f.FixedFen}, {in.PerM2, &f.PerM2Fen}} {
		if s := strings.TrimSpace(p.s); s != "" {
			fen, err := domain.ParseYuan(s)
			if err != nil {
				return web.Error(http.StatusBadRequest, "invalid", "金额应为元，最多两位小数，例如 2.50")
			}
			*p.to = fen
		}
	}
	f, err := bill.NewFeeItem(f, h.now())
	if err != nil {
		return web.Error(http.StatusBadRequest, "invalid", bill.Message(err))
	}
	if err := h.Store.HouseRepo().PutFeeItem(ctx, f); err != nil {
		return h.internal(ctx, c, "put fee item", err)
	}
	h.audit(ctx, c, "fee_item.put", "fee_item", cm.ID+"/"+f.Name, nil, feeItemJSON(f))
	return web.JSON(http.StatusOK, feeItemJSON(f))
}

// HouseJSON is a house in the API.
type HouseJSON struct {
	ID         string `json:"id"`
	Label      string `json:"label"`
	Building   string `json:"building"`
	Unit       string `json:"unit,omitempty"`
	Room       string `json:"room"`
	OwnerName  string `json:"owner_name,omitempty"`
	OwnerPhone string `json:"owner_phone,omitempty"` // masked: 138****0001
	AreaM2     string `json:"area_m2,omitempty"`
}

func houseJSON(hs house.House) HouseJSON {
	return HouseJSON{ID: hs.ID, Label: hs.Label(), Building: hs.Building, Unit: hs.Unit, Room: hs.Room, OwnerName: hs.OwnerName,
		OwnerPhone: house.MaskedPhone(hs.OwnerPhone), AreaM2: hs.AreaM2}
}

func pageLimit(q map[string]string) (int, bool) {
	s := q["limit"]
	if s == "" {
		return 50, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 200
}

func (h *Handler) apiHouses(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	q := c.req.QueryStringParameters
	limit, ok := pageLimit(q)
	if !ok {
		return web.Error(http.StatusBadRequest, "bad_limit", "每页条数应为 1-200")
	}
	if q["unit"] != "" && q["building"] == "" {
		return web.Error(http.StatusBadRequest, "invalid", "按单元筛选时请同时填写楼栋")
	}
	page, err := h.Store.HouseRepo().ListHouses(ctx, cm.CompanyID, cm.ID, strings.TrimSpace(q["building"]), strings.TrimSpace(q["unit"]), q["cursor"], int32(limit))
	if errors.Is(err, store.ErrBadCursor) {
		return web.Error(http.StatusBadRequest, "bad_cursor", "翻页参数无效，请从第一页重新查询")
	}
	if err != nil {
		return h.internal(ctx, c, "houses", err)
	}
	out := make([]HouseJSON, 0, len(page.Items))
	for _, hs := range page.Items {
		out = append(out, houseJSON(hs))
	}
	return web.JSON(http.StatusOK, map[string]any{"community_id": cm.ID, "houses": out, "next_cursor": page.Next})
}

// BillJSON is a bill in the API.
type BillJSON struct {
	ID         string      `json:"id"`
	HouseID    string      `json:"house_id"`
	House      string      `json:"house"`
	FeeItem    string      `json:"fee_item"`
	Period     string      `json:"period"`
	AmountFen  int64       `json:"amount_fen"`
	Amount     string      `json:"amount"`
	DueDate    string      `json:"due_date"`
	Status     bill.Status `json:"status"`
	StatusName string      `json:"status_name"`
	PaidAt     string      `json:"paid_at,omitempty"`
}

func billStatusName(s bill.Status) string {
	return map[bill.Status]string{bill.Unpaid: "未缴", bill.Reserved: "支付中", bill.Paid: "已缴", bill.Waived: "已减免"}[s]
}

func billJSON(b bill.Bill) BillJSON {
	out := BillJSON{ID: b.ID, HouseID: b.HouseID, House: house.Label(b.Building, b.Unit, b.Room), FeeItem: b.FeeItem, Period: b.Period,
		AmountFen: b.AmountFen, Amount: domain.FormatYuan(b.AmountFen), DueDate: string(b.DueDate), Status: b.Status, StatusName: billStatusName(b.Status)}
	if !b.PaidAt.IsZero() {
		out.PaidAt = b.PaidAt.Format(time.RFC3339)
	}
	return out
}

func billFilter(q map[string]string) store.BillFilter {
	return store.BillFilter{Status: bill.Status(strings.ToUpper(strings.TrimSpace(q["status"]))), Period: strings.TrimSpace(q["period"]),
		Building: strings.TrimSpace(q["building"]), Unit: strings.TrimSpace(q["unit"]), HouseID: strings.TrimSpace(q["house"])}
}

func (h *Handler) apiBills(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	return h.billsPage(ctx, c, cm.CompanyID, cm.ID, billFilter(c.req.QueryStringParameters))
}

func (h *Handler) billsPage(ctx context.Context, c *call, companyID, communityID string, f store.BillFilter) web.Response {
	limit, ok := pageLimit(c.req.QueryStringParameters)
	if !ok {
		return web.Error(http.StatusBadRequest, "bad_limit", "每页条数应为 1-200")
	}
	page, err := h.Store.BillRepo().CommunityBills(ctx, companyID, communityID, f, c.req.QueryStringParameters["cursor"], limit)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return web.Error(http.StatusBadRequest, "bad_cursor", "翻页参数无效，请从第一页重新查询")
	case errors.Is(err, store.ErrBadFilter):
		return web.Error(http.StatusBadRequest, "invalid", store.FilterMessage(err))
	case err != nil:
		return h.internal(ctx, c, "bills", err)
	}
	out := make([]BillJSON, 0, len(page.Items))
	for _, b := range page.Items {
		out = append(out, billJSON(b))
	}
	return web.JSON(http.StatusOK, map[string]any{"community_id": communityID, "bills": out, "next_cursor": page.Next})
}

func (h *Handler) apiHouseBills(ctx context.Context, c *call) web.Response {
	hs, err := h.Store.HouseRepo().GetHouse(ctx, c.scopeCompany(), c.params["hid"])
	if errors.Is(err, house.ErrNotFound) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "get house", err)
	}
	f := billFilter(c.req.QueryStringParameters)
	f.HouseID, f.Building, f.Unit = hs.ID, "", ""
	return h.billsPage(ctx, c, hs.CompanyID, hs.CommunityID, f)
}

var errBillsExportTooLarge = errors.New("导出的账单超过单次下载上限，请按账期或楼栋筛选后分段导出")

// apiBillsCSV answers every matching bill as one CSV (UTF-8 with BOM,
// Chinese header), read page by page from the index. Clients that accept
// gzip (browsers do) get it gzipped — CSV compresses about tenfold, so 100k
// bills fit in one Lambda response; others get plain CSV up to the same cap.
// Past the cap: 413 export_too_large, never a truncated file.
func (h *Handler) apiBillsCSV(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	f := billFilter(c.req.QueryStringParameters)
	if err := f.Check(); err != nil {
		return web.Error(http.StatusBadRequest, "invalid", store.FilterMessage(err))
	}
	gz := strings.Contains(web.Header(c.req, "Accept-Encoding"), "gzip")
	var body bytes.Buffer
	lim := &limited{w: &body, max: MaxBillsExportBytes}
	var out io.Writer = lim
	var zw *gzip.Writer
	if gz {
		lim.max = MaxBillsExportBytes * 3 / 4 // base64 grows it by 4/3
		zw, _ = gzip.NewWriterLevel(lim, gzip.BestSpeed)
		out = zw
	}
	err := WriteBillsCSV(out, func(fn func(bill.Bill) error) error {
		return h.Store.BillRepo().EachCommunityBill(ctx, cm.CompanyID, cm.ID, f, fn)
	})
	if err == nil && zw != nil {
		err = zw.Close()
	}
	switch {
	case errors.Is(err, errBillsExportTooLarge):
		return web.Error(http.StatusRequestEntityTooLarge, "export_too_large", err.Error())
	case err != nil:
		return h.internal(ctx, c, "bills csv", err)
	}
	r := file("text/csv; charset=utf-8", body.Bytes(), gz)
	if gz {
		r.Headers["Content-Encoding"] = "gzip"
	}
	r.Headers["Content-Disposition"] = `attachment; filename="bills-` + asciiName(cm.ID) + `.csv"; filename*=UTF-8''` + url.PathEscape(cm.Name+"-账单.csv")
	return r
}

type limited struct {
	w        io.Writer
	max, len int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.len+len(p) > l.max {
		return 0, errBillsExportTooLarge
	}
	l.len += len(p)
	return l.w.Write(p)
}

// WriteBillsCSV writes bills as CSV for Excel (bills.WriteCSV: the bench
// measures the same code).
func WriteBillsCSV(w io.Writer, each func(func(bill.Bill) error) error) error {
	return bills.WriteCSV(w, each, billStatusName, defuse)
}

// JobJSON is an import job in the API.
type JobJSON struct {
	ID         string            `json:"id"`
	State      bills.JobState    `json:"state"`
	Houses     int               `json:"houses"`
	Bills      int               `json:"bills"`
	Total      int               `json:"total"`
	Written    int               `json:"written"`
	Created    int               `json:"created"`
	Percent    int               `json:"percent"`
	ErrorCount int               `json:"error_count"`
	Errors     []importErrorJSON `json:"errors,omitempty"`
	Files      []string          `json:"files,omitempty"`
	Community  string            `json:"community_id"`
}

type importErrorJSON struct {
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

func jobJSON(j bills.Job) JobJSON {
	out := JobJSON{ID: j.ID, State: j.State, Houses: j.Houses, Bills: j.Bills, Total: j.Total, Written: j.Written, Created: j.Created,
		Percent: j.Percent(), ErrorCount: j.ErrorCount, Files: j.FileNames, Community: j.CommunityID}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, importErrorJSON{Row: e.Row, Column: e.Column, Message: e.Message, Text: e.String()})
	}
	return out
}

// uploadFiles reads an import's files from the request: multipart/form-data
// with parts "houses" and/or "bills", or one raw CSV/XLSX body with ?kind=.
func uploadFiles(c *call) (bills.Files, string) {
	var f bills.Files
	ct := web.Header(c.req, "Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return f, "上传的内容无法识别"
			}
			data, err := io.ReadAll(io.LimitReader(p, sheet.MaxBytes+1))
			if err != nil {
				return f, "上传的内容无法识别"
			}
			if len(data) == 0 {
				continue // a file input left empty
			}
			switch p.FormName() {
			case "houses":
				f.Houses, f.HousesName = data, p.FileName()
			case "bills":
				f.Bills, f.BillsName = data, p.FileName()
			}
		}
	case mt == "text/csv" || mt == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" || mt == "application/octet-stream":
		switch c.req.QueryStringParameters["kind"] {
		case "houses":
			f.Houses, f.HousesName = c.body, "upload"
		case "bills":
			f.Bills, f.BillsName = c.body, "upload"
		default:
			return f, "请用 kind=houses 或 kind=bills 说明文件内容"
		}
	default:
		return f, "请上传 CSV 或 XLSX 文件"
	}
	if f.Houses == nil && f.Bills == nil {
		return f, "请选择要导入的文件"
	}
	return f, ""
}

// uploadBody reads an upload's body: up to sheet.MaxBytes (API Gateway's
// 10 MB), base64 when API Gateway sent it so.
func uploadBody(req web.Request) ([]byte, error) {
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(req.Body)) > sheet.MaxBytes+64<<10 {
			return nil, web.ErrBodyTooLarge
		}
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return nil, errors.New("invalid base64 body")
		}
		if len(b) > sheet.MaxBytes+64<<10 {
			return nil, web.ErrBodyTooLarge
		}
		return b, nil
	}
	if len(req.Body) > sheet.MaxBytes+64<<10 {
		return nil, web.ErrBodyTooLarge
	}
	return []byte(req.Body), nil
}

// apiImport checks the uploaded files and, when every row is right, writes
// for a few seconds: 200 with the job (state done or writing: POST …/run
// until done), or 422 with the row errors (nothing written).
func (h *Handler) apiImport(ctx context.Context, c *call) web.Response {
	cm, resp, ok := h.loadCommunity(ctx, c, c.params["id"])
	if !ok {
		return resp
	}
	files, msg := uploadFiles(c)
	if msg != "" {
		return web.Error(http.StatusBadRequest, "invalid", msg)
	}
	if len(files.Houses) > sheet.MaxBytes || len(files.Bills) > sheet.MaxBytes {
		return web.Error(http.StatusRequestEntityTooLarge, "too_large", "文件超过 10 MB，请分成几个文件导入")
	}
	im := h.importer()
	j, err := im.Start(ctx, cm.CompanyID, cm.ID, files, "staff:"+c.p.StaffID)
	if err != nil {
		return h.internal(ctx, c, "import start", err)
	}
	h.audit(ctx, c, "import.start", "import", cm.ID+"/"+j.ID, nil, map[string]any{"files": j.FileNames, "state": j.State, "rows": j.Total, "errors": j.ErrorCount})
	if j.State == bills.JobFailed {
		body := jobJSON(j)
		r := web.JSON(http.StatusUnprocessableEntity, map[string]any{"error": "invalid_rows", "message": "文件中有错误，未导入任何数据，请修改后重新上传", "job": body})
		return r
	}
	if j, err = im.Run(ctx, cm.CompanyID, j.ID, h.now().Add(runBudget)); err != nil {
		return h.internal(ctx, c, "import run", err)
	}
	return web.JSON(http.StatusOK, jobJSON(j))
}

func (h *Handler) apiImportJob(ctx context.Context, c *call) web.Response {
	j, err := h.Store.ImportRepo().GetJob(ctx, c.scopeCompany(), c.params["jid"])
	if errors.Is(err, bills.ErrJobNotFound) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "import job", err)
	}
	return web.JSON(http.StatusOK, jobJSON(j))
}

func (h *Handler) apiImportRun(ctx context.Context, c *call) web.Response {
	j, err := h.importer().Run(ctx, c.scopeCompany(), c.params["jid"], h.now().Add(runBudget))
	if errors.Is(err, bills.ErrJobNotFound) {
		return h.notFound(c)
	}
	if err != nil {
		return h.internal(ctx, c, "import run", err)
	}
	return web.JSON(http.StatusOK, jobJSON(j))
}
