package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stacktest"
	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/order"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

var recPaidAt = time.Date(2026, 3, 1, 16, 0, 5, 0, time.UTC) // 2026-03-02 00:00:05 +08:00

func csvOrder(id string, amount int64, fields map[string]string) order.Order {
	return order.Order{ID: id, CommunityID: "c1", Channel: domain.WeChat, AmountFen: amount, Status: order.Paid,
		PaidAt: recPaidAt, ProviderTxnID: "4200" + id, PayerID: "oPayer" + id, Fields: fields}
}

// readCSV checks the BOM and reads the rows back as Excel would.
func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatalf("no UTF-8 BOM: %.20q", b)
	}
	if bytes.Count(b, []byte("\xef\xbb\xbf")) != 1 {
		t.Fatal("the BOM must appear once, at the start")
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v\n%s", err, b)
	}
	return rows
}

func TestRecordsCSVEncoding(t *testing.T) {
	fields := domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText}, {Key: "name", Label: "业主姓名", Type: domain.FieldText}}
	var buf bytes.Buffer
	w := NewRecordsCSV(&buf, "阳光花园", fields)
	tricky := map[string]string{
		"room":  "3-201, \"东\"\n二单元",
		"name":  "=HYPERLINK(\"http://evil\")",
		"plate": "+86 123",
		"memo":  "@SUM(A1)",
	}
	refunded := csvOrder("EP2", 12, map[string]string{"room": "-1层", "name": "李四"})
	refunded.Status, refunded.Channel, refunded.RefundedAt = order.Refunded, domain.Alipay, recPaidAt.Add(time.Hour)
	for _, o := range []order.Order{csvOrder("EP1", 123456, tricky), refunded} {
		if err := w.Write(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\r\n")) {
		t.Error("lines must end with CRLF")
	}
	rows := readCSV(t, buf.Bytes())
	want := [][]string{
		{"小区", "订单号", "支付时间", "营业日", "支付渠道", "状态", "金额（元）", "退款时间", "交易单号", "付款人标识", "已退款金额（元）", "退款说明", "房号", "业主姓名", "其他信息"},
		{"阳光花园", "EP1", "2026-03-02T00:00:05+08:00", "2026-03-02", "微信支付", "已支付", "1234.56", "", "4200EP1", "oPayerEP1", "0.00", "",
			"3-201, \"东\"\n二单元", "'=HYPERLINK(\"http://evil\")", "memo=@SUM(A1); plate=+86 123"},
		{"阳光花园", "EP2", "2026-03-02T00:00:05+08:00", "2026-03-02", "支付宝", "已退款", "0.12", "2026-03-02T01:00:05+08:00", "4200EP2", "oPayerEP2", "0.12", "",
			"'-1层", "李四", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %q", rows)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}

	// Formula guard on every leading character a spreadsheet acts on.
	for _, s := range []string{"=1+1", "+1", "-1", "@x", "\tx", "\rx"} {
		if got := defuse(s); got != "'"+s {
			t.Errorf("defuse(%q) = %q", s, got)
		}
	}
	for _, s := range []string{"", "1-1", "a=b", "房号"} {
		if got := defuse(s); got != s {
			t.Errorf("defuse(%q) = %q", s, got)
		}
	}

	// No records: the header still comes, with its BOM.
	buf.Reset()
	w = NewRecordsCSV(&buf, "翠湖小区", nil)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, buf.Bytes()); len(rows) != 1 || rows[0][len(rows[0])-1] != "其他信息" {
		t.Fatalf("empty export: %q", rows)
	}
}

func TestCappedCountsTheBodyAsSent(t *testing.T) {
	var buf bytes.Buffer
	c := &capped{w: &buf, max: 12}
	if _, err := c.Write([]byte(`ab"`)); err != nil || c.len != 4 {
		t.Fatalf("len %d err %v: a quote is 2 bytes in the response", c.len, err)
	}
	if _, err := c.Write([]byte("<\n")); err != nil || c.len != 12 {
		t.Fatalf("len %d err %v", c.len, err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, errExportTooLarge) || buf.Len() != 5 {
		t.Fatalf("past the cap: %v, wrote %d", err, buf.Len())
	}
}

func TestParseRecordFilter(t *testing.T) {
	f, err := ParseRecordFilter(map[string]string{"from": "2026-03-01", "to": "2026-03-31", "channel": "WeChat", "status": "refunded", "min": "10", "max": "99.5", "q": " 3-201 "})
	want := store.RecordFilter{From: "2026-03-01", To: "2026-03-31", Channel: domain.WeChat, Status: order.Refunded, MinFen: 1000, MaxFen: 9950, Keyword: "3-201"}
	if err != nil || f != want {
		t.Fatalf("got %+v, %v", f, err)
	}
	for _, q := range []map[string]string{{"min": "1.234"}, {"max": "-5"}, {"from": "03/01/2026"}, {"channel": "cash"}, {"status": "PENDING"}, {"min": "9", "max": "1"}} {
		if _, err := ParseRecordFilter(q); !errors.Is(err, store.ErrBadFilter) || store.FilterMessage(err) == "" {
			t.Errorf("%v: %v", q, err)
		}
	}
}

// fakeRecords is the records index and directory of one company's community.
type fakeRecords struct {
	communities map[string]store.Community
	orders      []order.Order
	gotFilter   store.RecordFilter
	onEach      func()
}

func (f *fakeRecords) GetCommunity(_ context.Context, id string) (store.Community, error) {
	c, ok := f.communities[id]
	if !ok {
		return c, store.ErrNotFound
	}
	return c, nil
}
func (f *fakeRecords) GetCompany(_ context.Context, id string) (store.Company, error) {
	return store.Company{ID: id, Name: "示范物业", PayerFields: domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText}}}, nil
}
func (f *fakeRecords) QueryRecords(_ context.Context, _ string, flt store.RecordFilter, _ string, limit int) (store.RecordsPage, error) {
	f.gotFilter = flt
	return store.RecordsPage{Orders: f.orders[:min(limit, len(f.orders))], Next: "more"}, nil
}
func (f *fakeRecords) EachRecord(ctx context.Context, _ string, flt store.RecordFilter, fn func(order.Order) error) error {
	f.gotFilter = flt
	for _, o := range f.orders {
		if f.onEach != nil {
			f.onEach()
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func recReq(id string, q map[string]string) web.Request {
	return web.Request{PathParameters: map[string]string{"id": id}, QueryStringParameters: q}
}

func errCode(t *testing.T, r web.Response) (string, string) {
	t.Helper()
	var e web.ErrorBody
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("not a JSON error: %s", r.Body)
	}
	return e.Error.Code, e.Error.Message
}

func TestRecordsTenancyFiltersAndCap(t *testing.T) {
	ctx := context.Background()
	fake := &fakeRecords{communities: map[string]store.Community{"c1": {ID: "c1", CompanyID: "co-a", Name: "阳光花园"}}}
	for i := range 3 {
		fake.orders = append(fake.orders, csvOrder(fmt.Sprintf("EP%d", i), 100, map[string]string{"room": "1-101"}))
	}
	h := &Records{Directory: fake, Orders: fake, Log: quietLog}
	own, other, operator := Tenant{CompanyID: "co-a"}, Tenant{CompanyID: "co-b"}, Tenant{Platform: true}

	// Another company's community is not found, exactly like a missing one.
	for _, r := range []web.Response{h.JSON(ctx, other, recReq("c1", nil)), h.CSV(ctx, other, recReq("c1", nil)), h.JSON(ctx, own, recReq("nope", nil)), h.JSON(ctx, Tenant{}, recReq("c1", nil))} {
		if code, _ := errCode(t, r); r.StatusCode != http.StatusNotFound || code != "not_found" {
			t.Fatalf("want 404 not_found, got %d %s", r.StatusCode, r.Body)
		}
	}

	r := h.JSON(ctx, own, recReq("c1", map[string]string{"channel": "alipay", "from": "2026-03-02", "limit": "2"}))
	var page RecordsPageJSON
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &page) != nil {
		t.Fatalf("JSON: %d %s", r.StatusCode, r.Body)
	}
	if len(page.Payments) != 2 || page.NextCursor != "more" || page.Community != "阳光花园" || page.Payments[0].PaidAt != "2026-03-02T00:00:05+08:00" || page.Payments[0].Amount != "1.00" {
		t.Fatalf("page %+v", page)
	}
	if fake.gotFilter.Channel != domain.Alipay || fake.gotFilter.From != "2026-03-02" {
		t.Fatalf("filter passed on: %+v", fake.gotFilter)
	}
	if r := h.JSON(ctx, operator, recReq("c1", nil)); r.StatusCode != http.StatusOK {
		t.Fatalf("the operator sees every company: %d", r.StatusCode)
	}
	for _, q := range []map[string]string{{"limit": "0"}, {"limit": "101"}, {"status": "CLOSED"}, {"min": "abc"}} {
		if r := h.JSON(ctx, own, recReq("c1", q)); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d", q, r.StatusCode)
		}
	}

	// CSV: a file named after the community, the company's field as a column.
	r = h.CSV(ctx, own, recReq("c1", map[string]string{"from": "2026-03-01", "to": "2026-03-31"}))
	if r.StatusCode != http.StatusOK || r.Headers["Content-Type"] != "text/csv; charset=utf-8" || r.IsBase64Encoded {
		t.Fatalf("CSV: %d %v", r.StatusCode, r.Headers)
	}
	if cd := r.Headers["Content-Disposition"]; !strings.HasPrefix(cd, `attachment; filename="records-c1.csv"; filename*=UTF-8''`) || !strings.Contains(cd, "%E9%98%B3") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	rows := readCSV(t, []byte(r.Body))
	if len(rows) != 4 || rows[0][12] != "房号" || rows[1][12] != "1-101" {
		t.Fatalf("rows %q", rows)
	}

	// Past the size cap: 413 with what to do, never a truncated file.
	big := strings.Repeat("长", 1000)
	fake.orders = nil
	for i := range MaxExportBytes / 3000 {
		fake.orders = append(fake.orders, csvOrder(fmt.Sprintf("EPBIG%d", i), 100, map[string]string{"room": big}))
	}
	r = h.CSV(ctx, own, recReq("c1", nil))
	if code, msg := errCode(t, r); r.StatusCode != http.StatusRequestEntityTooLarge || code != "export_too_large" || msg != msgExportTooLarge {
		t.Fatalf("over the cap: %d %s", r.StatusCode, r.Body)
	}

	// Near the Lambda deadline: the same answer, in time.
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	h.Now = func() time.Time { return now }
	fake.onEach = func() { now = now.Add(10 * time.Millisecond) }
	dctx, cancel := context.WithDeadline(ctx, now.Add(5*time.Second))
	defer cancel()
	r = h.CSV(dctx, own, recReq("c1", nil))
	if code, msg := errCode(t, r); r.StatusCode != http.StatusRequestEntityTooLarge || code != "export_too_large" || msg != msgExportTooSlow {
		t.Fatalf("near the deadline: %d %s", r.StatusCode, r.Body)
	}
}

// Through the embedded DynamoDB with the template's tables: the export
// reads every matching record, newest first, page by page.
func TestRecordsCSVFromTheIndex(t *testing.T) {
	st := stacktest.NewStore(t)
	ctx := context.Background()
	if err := st.PutCompany(ctx, store.Company{ID: "co-a", Name: "示范物业"}); err != nil {
		t.Fatal(err)
	}
	com := store.Community{ID: "c-csv", CompanyID: "co-a", Name: "阳光花园",
		PayerFields: domain.PayerFields{{Key: "room", Label: "房号", Type: domain.FieldText, Required: true}}}
	if err := st.PutCommunity(ctx, com); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	n := 450 // more than one index page of the export
	for i := range n {
		ch := domain.Alipay
		if i%3 == 0 {
			ch = domain.WeChat
		}
		stacktest.SeedOrder(t, st, order.Order{ID: fmt.Sprintf("EPCSV%03d", i), CommunityID: com.ID, CompanyID: "co-a", CodeToken: "tok",
			Channel: ch, IfaceID: "if", MerchantID: "M", AppID: "A", AmountFen: int64(i + 1), Fields: map[string]string{"room": fmt.Sprintf("%d-%03d", i%9+1, i)}},
			start.Add(time.Duration(i)*time.Minute), start.Add(time.Duration(i)*time.Minute+30*time.Second))
	}
	h := &Records{Directory: st, Orders: st.OrderRepo(), Log: quietLog}
	r := h.CSV(ctx, Tenant{CompanyID: "co-a"}, recReq(com.ID, map[string]string{"channel": "alipay"}))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	rows := readCSV(t, []byte(r.Body))
	if len(rows) != 1+n*2/3 {
		t.Fatalf("%d rows, want the header and %d Alipay records", len(rows), n*2/3)
	}
	last := ""
	for _, row := range rows[1:] {
		if row[4] != "支付宝" || !strings.HasSuffix(row[2], "+08:00") {
			t.Fatalf("row %q", row)
		}
		if last != "" && row[2] > last {
			t.Fatalf("not newest first: %s after %s", row[2], last)
		}
		last = row[2]
	}
	if rows[1][1] != "EPCSV449" || rows[1][12] != "9-449" || rows[1][6] != "4.50" {
		t.Fatalf("newest row %q", rows[1])
	}
	if day := calendar.BusinessDay(start); rows[len(rows)-1][3] != string(day) {
		t.Fatalf("oldest row %q", rows[len(rows)-1])
	}
}
