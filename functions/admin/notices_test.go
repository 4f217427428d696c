package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/qrscan"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/domain/notice"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// The fixture's notices: one per company (the routes' {nid}), of house
// 1栋101 with two unpaid bills.
const (
	noticeA = "NoticeAaaaaaaaaaaaaaaaa"
	noticeB = "NoticeBbbbbbbbbbbbbbbbb"
)

var noticeNow = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// putHouse stores a house as given (no checks: a hostile owner name is
// stored as an old import might have it) with its bills (fen each).
func putHouse(t *testing.T, st *store.Store, company, community, building, unit, room, owner string, fen ...int64) house.House {
	t.Helper()
	ctx := context.Background()
	h := house.House{ID: house.ID(company, community, building, unit, room), CompanyID: company, CommunityID: community,
		Building: building, Unit: unit, Room: room, OwnerName: owner, CreatedAt: noticeNow, UpdatedAt: noticeNow}
	if err := st.HouseRepo().PutHouse(ctx, h); err != nil {
		t.Fatal(err)
	}
	for i, f := range fen {
		b, err := bill.New(bill.Bill{ID: fmt.Sprintf("B-%s-%d", h.ID, i), CompanyID: company, CommunityID: community, HouseID: h.ID,
			FeeItem: []string{"物业费", "水费", "停车费"}[i%3], Period: fmt.Sprintf("2026-%02d", 10+i%3), AmountFen: f, DueDate: calendar.Day("2026-12-31")}, "test", noticeNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.BillRepo().Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func seedNotices(t *testing.T, st *store.Store) {
	t.Helper()
	for _, x := range []struct{ co, cm, id string }{{coA, cmA, noticeA}, {coB, cmB, noticeB}} {
		h := putHouse(t, st, x.co, x.cm, "1", "", "101", "业主"+x.co, 30000, 4550)
		bills, err := st.BillRepo().ListByHouse(context.Background(), x.co, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		n, err := notice.New(x.id, h, bills, "test", noticeNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.HouseRepo().CreateNotice(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
}

func noticesPost(body string) rq {
	return rq{method: http.MethodPost, path: "/admin/api/notices", json: body}
}

type issuedJSON struct {
	IDs      []string `json:"ids"`
	Created  []string `json:"created"`
	Existing []string `json:"existing"`
	NoBills  int      `json:"no_unpaid_bills"`
	Next     string   `json:"next_cursor"`
}

func decode[T any](t *testing.T, r web.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("%d %s: %v", r.StatusCode, r.Body, err)
	}
	return v
}

// printedCodes decodes every QR <img> of a print page back to its text.
func printedCodes(t *testing.T, page string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(page, -1) {
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		text, err := qrscan.Read(img)
		if err != nil {
			t.Fatalf("the printed code does not decode: %v", err)
		}
		out = append(out, text)
	}
	return out
}

// One house: made once (the second request answers the same notice), read
// back with its URL and items, printed with a code that decodes to the
// URL; partly paid it asks only what remains; paid, it prints 已缴清 and
// no amount or code.
func TestNoticeOfOneHouse(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	h := putHouse(t, f.st, coA, cmA, "3", "2", "1101", "王五", 12000, 3000, 500)

	r := f.as(admin, noticesPost(`{"house_id":"`+h.ID+`"}`))
	got := decode[issuedJSON](t, r)
	if r.StatusCode != http.StatusCreated || len(got.Created) != 1 || len(got.IDs) != 1 {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	id := got.IDs[0]
	r = f.as(admin, noticesPost(`{"house_id":"`+h.ID+`"}`))
	if again := decode[issuedJSON](t, r); r.StatusCode != http.StatusOK || len(again.Created) != 0 || len(again.Existing) != 1 || again.Existing[0] != id {
		t.Fatalf("again: %d %s", r.StatusCode, r.Body)
	}
	if f.acc.recordCount() != 1 {
		t.Fatalf("%d audit records, want the one creation", f.acc.recordCount())
	}

	type item struct {
		BillID    string `json:"bill_id"`
		FeeItem   string `json:"fee_item"`
		Period    string `json:"period"`
		AmountFen int64  `json:"amount_fen"`
		State     string `json:"state"`
	}
	type noticeOut struct {
		ID    string `json:"id"`
		URL   string `json:"url"`
		House struct {
			ID, Label string
			Owner     string `json:"owner_name"`
		} `json:"house"`
		Items    []item `json:"items"`
		TotalFen int64  `json:"total_fen"`
		OpenFen  int64  `json:"open_fen"`
		Settled  bool   `json:"settled"`
	}
	n := decode[noticeOut](t, f.as(admin, get("/admin/api/notices/"+id)))
	wantURL := "https://pay.example.com/n/" + id
	if n.ID != id || n.URL != wantURL || n.URL != notice.NoticeURL(f.h.PublicBaseURL, id) || n.House.ID != h.ID || n.House.Label != "3栋2单元1101" ||
		n.House.Owner != "王五" || len(n.Items) != 3 || n.TotalFen != 15500 || n.OpenFen != 15500 || n.Settled {
		t.Fatalf("notice: %+v", n)
	}
	for _, it := range n.Items {
		if it.State != "open" || it.BillID == "" || it.FeeItem == "" || it.Period == "" || it.AmountFen <= 0 {
			t.Fatalf("item %+v", it)
		}
	}

	// The print page (the contract path and the console's): one code, the
	// notice's URL; A4 by default, A5 on request.
	for _, path := range []string{"/admin/api/notices/" + id + "/print", "/admin/notices/" + id + "/print?size=a5"} {
		r := f.as(admin, get(path))
		if r.StatusCode != 200 || !strings.HasPrefix(r.Headers["Content-Type"], "text/html") || !strings.Contains(r.Headers["Content-Security-Policy"], "script-src") && strings.Contains(r.Body, "<script") {
			t.Fatalf("%s: %d %v", path, r.StatusCode, r.Headers)
		}
		if codes := printedCodes(t, r.Body); len(codes) != 1 || codes[0] != wantURL {
			t.Fatalf("%s: codes %q, want %s", path, codes, wantURL)
		}
		if !strings.Contains(r.Body, "¥155.00") || !strings.Contains(r.Body, "3栋2单元1101") || !strings.Contains(r.Body, "王五") ||
			!strings.Contains(r.Body, "物业A") || !strings.Contains(r.Body, "小区A") || !strings.Contains(r.Body, "2026-12-31") {
			t.Fatalf("%s: %s", path, r.Body)
		}
	}
	if r := f.as(admin, get("/admin/notices/"+id+"/print?size=a5")); !strings.Contains(r.Body, "size: A5 portrait") {
		t.Fatal("A5 not honoured")
	}

	// Partly paid (the first bill at the counter): only what remains.
	payBills(t, f.st, n.Items[0].BillID)
	remaining := 15500 - n.Items[0].AmountFen
	n2 := decode[noticeOut](t, f.as(admin, get("/admin/api/notices/"+id)))
	if n2.OpenFen != remaining || n2.TotalFen != 15500 || n2.Items[0].State != "paid" || n2.Settled {
		t.Fatalf("partly paid: %+v", n2)
	}
	page := f.as(admin, get("/admin/api/notices/"+id+"/print")).Body
	if !strings.Contains(page, "尚需缴纳") || !strings.Contains(page, "¥"+yuan(remaining)) || strings.Contains(page, "¥155.00") || len(printedCodes(t, page)) != 1 {
		t.Fatalf("partly paid print: %s", page)
	}
	// The bills changed: a new notice for the house asks the rest.
	r = f.as(admin, noticesPost(`{"house_id":"`+h.ID+`"}`))
	if got := decode[issuedJSON](t, r); r.StatusCode != 201 || got.IDs[0] == id {
		t.Fatalf("after a payment, a new notice: %d %s", r.StatusCode, r.Body)
	}

	// Settled: 已缴清, no amount to pay, no code.
	payBills(t, f.st, n.Items[1].BillID, n.Items[2].BillID)
	n3 := decode[noticeOut](t, f.as(admin, get("/admin/api/notices/"+id)))
	if !n3.Settled || n3.OpenFen != 0 {
		t.Fatalf("settled: %+v", n3)
	}
	page = f.as(admin, get("/admin/api/notices/"+id+"/print")).Body
	if !strings.Contains(page, "已缴清") || strings.Contains(page, "¥") || strings.Contains(page, "<img") {
		t.Fatalf("settled print: %s", page)
	}
	if r := f.as(admin, get("/admin/notices/"+id)); r.StatusCode != 200 || !strings.Contains(r.Body, "已缴清") || !strings.Contains(r.Body, "针式打印机") {
		t.Fatalf("notice page: %d %s", r.StatusCode, r.Body)
	}
	// Nothing left to bill: no notice, said so.
	r = f.as(admin, noticesPost(`{"house_id":"`+h.ID+`"}`))
	if r.StatusCode != http.StatusUnprocessableEntity || errorCode(t, r) != "no_unpaid_bills" {
		t.Fatalf("no unpaid bills: %d %s", r.StatusCode, r.Body)
	}
}

// payBills marks bills paid by an order, as a confirmed payment does.
func payBills(t *testing.T, st *store.Store, ids ...string) {
	t.Helper()
	if _, err := st.BillRepo().PayAll(context.Background(), "order-"+ids[0], ids, noticeNow); err != nil {
		t.Fatal(err)
	}
}

// A batch: one notice per house with unpaid bills, nothing twice; a
// building narrows it; pages of houses continue from the cursor.
func TestNoticeBatch(t *testing.T) {
	f := newFixture(t)
	cashier := f.login("cashier-a")
	putHouse(t, f.st, coA, cmA, "2", "1", "101", "甲", 1000)
	putHouse(t, f.st, coA, cmA, "2", "1", "102", "乙", 2000, 300)
	putHouse(t, f.st, coA, cmA, "2", "2", "101", "丙") // no bills
	putHouse(t, f.st, coA, cmA, "5", "", "101", "丁", 800)

	r := f.as(cashier, noticesPost(`{"community_id":"`+cmA+`","building":"2"}`))
	got := decode[issuedJSON](t, r)
	if r.StatusCode != 201 || len(got.Created) != 2 || len(got.Existing) != 0 || got.NoBills != 1 || got.Next != "" {
		t.Fatalf("building 2: %d %s", r.StatusCode, r.Body)
	}
	// The whole community: 1栋101 has the fixture's notice, building 2's
	// are there, 5栋101 is new.
	r = f.as(cashier, noticesPost(`{"community_id":"`+cmA+`"}`))
	got = decode[issuedJSON](t, r)
	if r.StatusCode != 201 || len(got.Created) != 1 || len(got.Existing) != 3 || got.NoBills != 1 {
		t.Fatalf("community: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(cashier, noticesPost(`{"community_id":"`+cmA+`"}`))
	if got := decode[issuedJSON](t, r); r.StatusCode != 200 || len(got.Created) != 0 || len(got.IDs) != 4 {
		t.Fatalf("pressed again: %d %s", r.StatusCode, r.Body)
	}
	// The console form does the same (re-posting makes nothing).
	r = f.as(cashier, post("/admin/communities/"+cmA+"/notices", "building", "2"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "新生成 0 张；2 户已有包含相同账单的通知单") {
		t.Fatalf("form batch: %d %s", r.StatusCode, r.Body)
	}
	// One house through the form: its notice page.
	putHouse(t, f.st, coA, cmA, "7", "", "9", "戊", 100)
	r = f.as(cashier, post("/admin/communities/"+cmA+"/notices", "building", "7", "room", "9"))
	if r.StatusCode != 302 || !strings.HasPrefix(r.Headers["Location"], "/admin/notices/") || !strings.HasSuffix(r.Headers["Location"], "?done=notice") {
		t.Fatalf("form house: %d %v", r.StatusCode, r.Headers)
	}
	if r := f.as(cashier, post("/admin/communities/"+cmA+"/notices", "building", "7", "room", "99")); r.StatusCode != 400 || !strings.Contains(r.Body, "没有 7栋99") {
		t.Fatalf("form unknown house: %d %s", r.StatusCode, r.Body)
	}

	// The listing: building 2's two notices, with what each asks.
	type listed struct {
		Notices []struct {
			ID      string `json:"id"`
			URL     string `json:"url"`
			OpenFen int64  `json:"open_fen"`
			House   struct {
				Label string `json:"label"`
			} `json:"house"`
		} `json:"notices"`
		Next string `json:"next_cursor"`
	}
	list := decode[listed](t, f.as(cashier, get("/admin/api/communities/"+cmA+"/notices?building=2&unit=1")))
	if len(list.Notices) != 2 || list.Notices[0].House.Label != "2栋1单元101" || list.Notices[0].OpenFen != 1000 || list.Notices[1].OpenFen != 2300 ||
		list.Notices[0].URL != "https://pay.example.com/n/"+list.Notices[0].ID {
		t.Fatalf("listing: %+v", list)
	}
	r = f.as(cashier, get("/admin/api/communities/"+cmA+"/notices?limit=2"))
	if p := decode[listed](t, r); p.Next == "" || len(p.Notices) != 2 {
		t.Fatalf("limit 2 of 5: no cursor: %s", r.Body)
	}
	if r := f.as(cashier, get("/admin/api/communities/"+cmA+"/notices?cursor=zzz")); r.StatusCode != 400 {
		t.Fatalf("bad cursor: %d", r.StatusCode)
	}
	if r := f.as(cashier, get("/admin/communities/"+cmA+"/notices")); r.StatusCode != 200 || !strings.Contains(r.Body, "2栋1单元102") || !strings.Contains(r.Body, "23.00") {
		t.Fatalf("console list: %d %s", r.StatusCode, r.Body)
	}
}

// Batch print: each house's newest notice once, in pages of printBatch
// with a link to the next; each sheet's code is its own notice's URL. Also
// measures the bytes a printed notice takes.
func TestBatchPrint(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	for i := range 5 {
		putHouse(t, f.st, coA, cmA, "9", "", fmt.Sprintf("%d01", i+1), "业主", 1000, 2000, 3000)
	}
	if r := f.as(admin, noticesPost(`{"community_id":"`+cmA+`"}`)); r.StatusCode != 201 {
		t.Fatalf("batch: %d %s", r.StatusCode, r.Body)
	}
	// A second, newer notice of 9栋101 (a bill paid since): printed instead of its first.
	first := decode[struct {
		Notices []struct {
			ID string `json:"id"`
		} `json:"notices"`
	}](t, f.as(admin, get("/admin/api/communities/"+cmA+"/notices?building=9"))).Notices[0].ID
	n, _ := f.st.HouseRepo().GetNotice(context.Background(), first)
	payBills(t, f.st, n.BillIDs[0])
	f.h.Notices.Now = func() time.Time { return noticeNow.Add(time.Hour) }
	r := f.as(admin, noticesPost(`{"house_id":"`+n.HouseID+`"}`))
	newer := decode[issuedJSON](t, r).IDs[0]

	r = f.as(admin, get("/admin/communities/"+cmA+"/notices/print?building=9"))
	codes := printedCodes(t, r.Body)
	if r.StatusCode != 200 || len(codes) != 5 || strings.Contains(r.Body, first) || !strings.Contains(r.Body, newer) || strings.Contains(r.Body, "下一批") && strings.Contains(r.Body, "cursor=") {
		t.Fatalf("batch print: %d, %d codes", r.StatusCode, len(codes))
	}
	for _, c := range codes {
		if !strings.HasPrefix(c, "https://pay.example.com/n/") || !strings.Contains(r.Body, `data-notice="`+strings.TrimPrefix(c, "https://pay.example.com/n/")+`"`) {
			t.Fatalf("code %s is not one of the page's notices", c)
		}
	}
	perNotice := len(r.Body) / len(codes)
	t.Logf("batch print: %d bytes for %d notices (%d bytes a notice; %d notices = %d KB)", len(r.Body), len(codes), perNotice, printBatch, int(printBatch)*perNotice/1024)
	if int(printBatch)*perNotice > 5<<20 {
		t.Fatalf("%d notices of %d bytes exceed a Lambda response", printBatch, perNotice)
	}

	// Pages of 2: 9栋101's two notices are never split, every house once.
	printBatch = 2
	defer func() { printBatch = 200 }()
	seen := map[string]bool{}
	next := "/admin/communities/" + cmA + "/notices/print?building=9&size=a5"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		r := f.as(admin, get(next))
		if r.StatusCode != 200 || !strings.Contains(r.Body, "size: A5") {
			t.Fatalf("page %d: %d", pages, r.StatusCode)
		}
		for _, c := range printedCodes(t, r.Body) {
			if seen[c] {
				t.Fatalf("%s printed twice", c)
			}
			seen[c] = true
		}
		next = ""
		if m := regexp.MustCompile(`<a href="(/admin/communities/[^"]+cursor=[^"]+)">下一批`).FindStringSubmatch(r.Body); m != nil {
			next = html.UnescapeString(m[1])
		}
	}
	if len(seen) != 5 || seen["https://pay.example.com/n/"+first] || !seen["https://pay.example.com/n/"+newer] {
		t.Fatalf("printed %d notices: %v", len(seen), seen)
	}
}

// Owner names and fee items are text, never markup, on every page.
func TestNoticeNamesAreEscaped(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	h := putHouse(t, f.st, coA, cmA, "4", "", "404", `<script>alert("x")</script>`, 100)
	id := decode[issuedJSON](t, f.as(admin, noticesPost(`{"house_id":"`+h.ID+`"}`))).IDs[0]
	for _, path := range []string{"/admin/api/notices/" + id + "/print", "/admin/notices/" + id, "/admin/communities/" + cmA + "/notices", "/admin/communities/" + cmA + "/notices/print"} {
		r := f.as(admin, get(path))
		if r.StatusCode != 200 || strings.Contains(r.Body, `<script>alert`) || !strings.Contains(r.Body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: %d, the owner name is not escaped", path, r.StatusCode)
		}
	}
	type owner struct {
		House struct {
			Owner string `json:"owner_name"`
		} `json:"house"`
	}
	n := decode[owner](t, f.as(admin, get("/admin/api/notices/"+id)))
	if n.House.Owner != `<script>alert("x")</script>` {
		t.Errorf("JSON owner %q", n.House.Owner)
	}
}

// Another company's notice, house and community are 404 (as missing ones);
// roles without the notices' permissions get 403.
func TestNoticeScopeAndRoles(t *testing.T) {
	f := newFixture(t)
	adminB := f.login("admin-b")
	hA := putHouse(t, f.st, coA, cmA, "6", "", "601", "甲", 100)
	for _, r := range []rq{
		get("/admin/api/notices/" + noticeA), get("/admin/api/notices/" + noticeA + "/print"), get("/admin/notices/" + noticeA),
		get("/admin/notices/" + noticeA + "/print"), get("/admin/api/communities/" + cmA + "/notices"),
		get("/admin/communities/" + cmA + "/notices/print"),
		noticesPost(`{"house_id":"` + hA.ID + `"}`), noticesPost(`{"community_id":"` + cmA + `"}`),
	} {
		resp := f.as(adminB, r)
		if resp.StatusCode != 404 || strings.Contains(resp.Body, "小区A") || strings.Contains(resp.Body, noticeA) {
			t.Errorf("%s %s as company B: %d %.200s", r.method, r.path, resp.StatusCode, resp.Body)
		}
	}
	if ns, _ := f.st.HouseRepo().HouseNotices(context.Background(), hA, 10); len(ns) != 0 {
		t.Fatal("company B made a notice for company A's house")
	}
	for who, want := range map[string]int{"admin-a": 200, "cashier-a": 200, "risk-a": 403, "manager-a": 403, "op": 403} {
		s := f.login(who)
		if r := f.as(s, get("/admin/api/notices/"+noticeA+"/print?company="+coA)); r.StatusCode != want {
			t.Errorf("%s prints: %d, want %d", who, r.StatusCode, want)
		}
		wantIssue := map[int]int{200: 201, 403: 403}[want]
		if r := f.as(s, noticesPost(`{"house_id":"`+hA.ID+`"}`)); r.StatusCode != wantIssue && !(wantIssue == 201 && r.StatusCode == 200) {
			t.Errorf("%s issues: %d, want %d", who, r.StatusCode, wantIssue)
		}
	}
	if r := f.as(f.login("admin-a"), noticesPost(`{"house_id":"x","community_id":"y"}`)); r.StatusCode != 400 {
		t.Errorf("both house and community: %d", r.StatusCode)
	}
}
