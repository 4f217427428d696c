package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/bills"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/sheet"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// upload posts a multipart form (plain fields, then files by field name) in
// session s; csrf is the form's token ("" leaves it out).
func (f *fixture) upload(s session, path, csrf string, fields map[string]string, files map[string][]byte) web.Response {
	f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if csrf != "" {
		mw.WriteField("csrf", csrf)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, data := range files {
		w, err := mw.CreateFormFile(name, name+".csv")
		if err != nil {
			f.t.Fatal(err)
		}
		w.Write(data)
	}
	mw.Close()
	req := web.Request{RawPath: path, QueryStringParameters: map[string]string{}, Cookies: []string{SessionCookie + "=" + s.id},
		Headers: map[string]string{"content-type": mw.FormDataContentType()},
		Body:    base64.StdEncoding.EncodeToString(body.Bytes()), IsBase64Encoded: true}
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.HTTP.Path = path
	r, err := f.h.Handle(context.Background(), req)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// importFiles imports CSV files (by kind) into company/community through
// the importer, to the end.
func importFiles(t *testing.T, f *fixture, company, community string, files bills.Files) bills.Job {
	t.Helper()
	ctx := context.Background()
	im := f.h.importer()
	j, err := im.Start(ctx, company, community, files, "test")
	if err != nil || j.State != bills.JobWriting {
		t.Fatalf("start: %+v %v", j, err)
	}
	for j.State == bills.JobWriting {
		if j, err = im.Run(ctx, company, j.ID, f.h.now().Add(runBudget)); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

func putFeeItem(t *testing.T, st *store.Store, company, community, name string, fixed, perM2 int64) {
	t.Helper()
	it, err := bill.NewFeeItem(bill.FeeItem{CompanyID: company, CommunityID: community, Name: name, FixedFen: fixed, PerM2Fen: perM2, Cycle: bill.Monthly}, noticeNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.HouseRepo().PutFeeItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// text is a page's visible text, roughly: tags out, entities decoded.
func text(page string) string { return html.UnescapeString(tagRE.ReplaceAllString(page, " ")) }

// The houses page: the community's houses in order with phones masked and
// owner names escaped, the building filter, pages of 50 with a working next
// link; cashiers read it, managers may not, another company gets 404.
func TestHousesPage(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	var csvb strings.Builder
	csvb.WriteString("楼栋,单元,房号,业主姓名,手机号,面积\n")
	for i := 1; i <= 52; i++ {
		csvb.WriteString(fmt.Sprintf("2,1,%d,业主%d,1380013%04d,88.5\n", 100+i, i, i))
	}
	importFiles(t, f, coA, cmA, bills.Files{Houses: []byte(csvb.String()), HousesName: "h.csv"})
	putHouse(t, f.st, coA, cmA, "9", "", "901", "<script>alert(1)</script>") // as an old import might have stored it

	r := f.as(admin, get("/admin/communities/"+cmA+"/houses"))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "1栋101") || !strings.Contains(r.Body, "2栋1单元101") {
		t.Fatalf("houses page: %d %.500s", r.StatusCode, r.Body)
	}
	if strings.Contains(r.Body, "13800130001") || !strings.Contains(r.Body, "138****0001") {
		t.Fatal("the phone is not masked")
	}
	if strings.Count(r.Body, "<tr>")-1 != pageRows {
		t.Fatalf("%d rows, want a page of %d", strings.Count(r.Body, "<tr>")-1, pageRows)
	}
	next := regexp.MustCompile(`id="next" href="([^"]+)"`).FindStringSubmatch(r.Body)
	if next == nil {
		t.Fatal("no next page link")
	}
	r = f.as(admin, get(html.UnescapeString(next[1])))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "9栋901") || strings.Contains(r.Body, "<script>alert") || !strings.Contains(r.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("second page: %d %.2000s", r.StatusCode, r.Body)
	}

	r = f.as(admin, get("/admin/communities/"+cmA+"/houses?building=9"))
	if r.StatusCode != 200 || strings.Count(r.Body, "<tr>")-1 != 1 || !strings.Contains(r.Body, "9栋901") {
		t.Fatalf("building 9: %d %.500s", r.StatusCode, r.Body)
	}
	if r := f.as(admin, get("/admin/communities/"+cmA+"/houses?unit=1")); r.StatusCode != 400 || !strings.Contains(r.Body, "按单元筛选时请同时填写楼栋") {
		t.Fatalf("unit without building: %d", r.StatusCode)
	}
	if r := f.as(admin, get("/admin/communities/"+cmA+"/houses?cursor=garbage")); r.StatusCode != 400 || !strings.Contains(r.Body, "翻页参数无效") {
		t.Fatalf("bad cursor: %d", r.StatusCode)
	}
	if r := f.as(f.login("cashier-a"), get("/admin/communities/"+cmA+"/houses")); r.StatusCode != 200 || strings.Contains(r.Body, "导入房屋") {
		t.Fatalf("cashier: %d (the import link is for admins)", r.StatusCode)
	}
	if r := f.as(f.login("manager-a"), get("/admin/communities/"+cmA+"/houses")); r.StatusCode != 403 {
		t.Fatalf("manager: %d", r.StatusCode)
	}
	if r := f.as(f.login("admin-b"), get("/admin/communities/"+cmA+"/houses")); r.StatusCode != 404 || strings.Contains(r.Body, "业主1") {
		t.Fatalf("another company: %d", r.StatusCode)
	}
	// The operator reads no company's houses (staff.BillsView).
	if r := f.as(f.login("op"), get("/admin/communities/"+cmA+"/houses?company="+coA)); r.StatusCode != 403 {
		t.Fatalf("operator: %d", r.StatusCode)
	}
	// The community page links the new pages for those who may open them.
	if r := f.as(admin, get("/admin/communities/"+cmA)); !strings.Contains(r.Body, "/admin/communities/"+cmA+"/imports") || !strings.Contains(r.Body, "/fee-items") {
		t.Fatal("the community page does not link the bills pages")
	}
	if r := f.as(f.login("cashier-a"), get("/admin/communities/"+cmA)); r.StatusCode == 200 && strings.Contains(r.Body, "/imports") {
		t.Fatal("a cashier is offered the import")
	}
}

// The bills page: status, period, building and room filters, the CSV link
// carrying them (the house by its id), filter errors shown, not thrown.
func TestBillsPage(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	putFeeItem(t, f.st, coA, cmA, "物业费", 0, 250)
	importFiles(t, f, coA, cmA, bills.Files{
		Houses: []byte("楼栋,单元,房号,业主姓名,手机号,面积\n5,1,501,甲,,100\n5,1,502,乙,,80\n6,,<b>1</b>,丙,,\n"),
		Bills:  []byte("楼栋,单元,房号,收费项目,账期,金额\n5,1,501,物业费,2026-10,\n5,1,501,物业费,2026-11,\n5,1,502,物业费,2026-11,\n6,,<b>1</b>,车位,2026-11,100\n")})
	r := f.as(admin, get("/admin/communities/"+cmA+"/bills"))
	// 4 imported, 2 of the fixture's notice house.
	if r.StatusCode != 200 || strings.Count(r.Body, "<tr>")-1 != 6 || !strings.Contains(r.Body, "250.00") || strings.Contains(r.Body, "<b>1") || !strings.Contains(r.Body, "6栋&lt;b&gt;1&lt;/b&gt;") {
		t.Fatalf("bills: %d %.3000s", r.StatusCode, r.Body)
	}
	r = f.as(admin, get("/admin/communities/"+cmA+"/bills?period=2026-11&building=5&unit=1&room=501&status=UNPAID"))
	if r.StatusCode != 200 || strings.Count(r.Body, "<tr>")-1 != 1 || !strings.Contains(text(r.Body), "5栋1单元501") {
		t.Fatalf("one house's November: %d %.3000s", r.StatusCode, r.Body)
	}
	hid := house.ID(coA, cmA, "5", "1", "501")
	csvLink := html.UnescapeString(regexp.MustCompile(`id="csv" href="([^"]+)"`).FindStringSubmatch(r.Body)[1])
	if !strings.Contains(csvLink, "house="+hid) || !strings.Contains(csvLink, "period=2026-11") || !strings.Contains(csvLink, "status=UNPAID") {
		t.Fatalf("csv link %s", csvLink)
	}
	c := f.as(admin, get(csvLink))
	if c.StatusCode != 200 || strings.Count(c.Body, "\n") != 2 || !strings.Contains(c.Body, "250.00") {
		t.Fatalf("the linked CSV: %d %q", c.StatusCode, c.Body)
	}
	// From the houses page: ?house=<id>.
	if r := f.as(admin, get("/admin/communities/"+cmA+"/bills?house="+hid)); r.StatusCode != 200 || strings.Count(r.Body, "<tr>")-1 != 2 {
		t.Fatalf("by house id: %d", r.StatusCode)
	}
	for q, msg := range map[string]string{"period=2026-13": "账期格式", "room=501": "按房号筛选时请同时填写楼栋", "status=NOPE": "状态只能是", "house=nope": "该房屋不存在"} {
		r := f.as(admin, get("/admin/communities/"+cmA+"/bills?"+q))
		if r.StatusCode != 400 || !strings.Contains(r.Body, msg) || strings.Contains(r.Body, `id="csv"`) {
			t.Fatalf("%s: %d %.300s", q, r.StatusCode, r.Body)
		}
	}
	// Another company's house id is not found in this community.
	hb := putHouse(t, f.st, coB, cmB, "7", "", "701", "乙方", 100)
	if r := f.as(admin, get("/admin/communities/"+cmA+"/bills?house="+hb.ID)); r.StatusCode != 400 || strings.Contains(r.Body, "7栋701") {
		t.Fatalf("another company's house: %d", r.StatusCode)
	}
	if r := f.as(f.login("admin-b"), get("/admin/communities/"+cmA+"/bills")); r.StatusCode != 404 {
		t.Fatalf("another company: %d", r.StatusCode)
	}
	if r := f.as(f.login("risk-a"), get("/admin/communities/"+cmA+"/bills")); r.StatusCode != 403 {
		t.Fatalf("risk officer: %d", r.StatusCode)
	}
}

// Fee items: admins add and edit (a name is the key), errors come back on
// the form with what was typed (escaped), cashiers only read, nobody else.
func TestFeeItemsPage(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	path := "/admin/communities/" + cmA + "/fee-items"
	r := f.as(admin, post(path, "name", "物业费", "kind", "per_m2", "amount", "2.5", "cycle", "monthly"))
	if r.StatusCode != http.StatusFound || !strings.Contains(r.Headers["Location"], "done=fee_item") {
		t.Fatalf("add: %d %s", r.StatusCode, r.Body)
	}
	r = f.as(admin, get(path))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "2.50 元/㎡") || !strings.Contains(r.Body, "按月") {
		t.Fatalf("list: %.2000s", r.Body)
	}
	// Edit: the form is filled; saving the same name replaces it.
	r = f.as(admin, get(path+"?edit=物业费"))
	if !strings.Contains(r.Body, `value="2.50"`) || !strings.Contains(r.Body, `<option value="per_m2" selected>`) || !strings.Contains(r.Body, "修改收费项目") {
		t.Fatalf("edit form: %.3000s", r.Body)
	}
	f.as(admin, post(path, "name", "物业费", "kind", "fixed", "amount", "120", "cycle", "quarterly", "editing", "1"))
	items, _ := f.st.HouseRepo().FeeItems(context.Background(), coA, cmA)
	if len(items) != 1 || items[0].FixedFen != 12000 || items[0].PerM2Fen != 0 || items[0].Cycle != bill.Quarterly {
		t.Fatalf("after editing: %+v", items)
	}
	for _, bad := range []struct{ name, kind, amount, cycle, msg string }{
		{"<b>水费</b>", "fixed", "10", "monthly", "不能包含"},
		{"水费", "fixed", "ten", "monthly", "金额应为元"},
		{"水费", "fixed", "", "monthly", "请填写金额"},
		{"水费", "fixed", "10", "weekly", "收费周期"},
		{"水费", "both", "10", "monthly", "计价方式"},
	} {
		r := f.as(admin, post(path, "name", bad.name, "kind", bad.kind, "amount", bad.amount, "cycle", bad.cycle))
		if r.StatusCode != 400 || !strings.Contains(r.Body, bad.msg) || strings.Contains(r.Body, "<b>水费") {
			t.Fatalf("%+v: %d %.300s", bad, r.StatusCode, r.Body)
		}
		if bad.name[0] == '<' && !strings.Contains(r.Body, `value="&lt;b&gt;水费&lt;/b&gt;"`) {
			t.Fatal("the typed name is not kept (escaped) on the form")
		}
	}
	if items, _ := f.st.HouseRepo().FeeItems(context.Background(), coA, cmA); len(items) != 1 {
		t.Fatalf("a refused item was stored: %+v", items)
	}
	cashier := f.login("cashier-a")
	if r := f.as(cashier, get(path)); r.StatusCode != 200 || strings.Contains(r.Body, `id="fee-form"`) {
		t.Fatalf("cashier reads: %d", r.StatusCode)
	}
	if r := f.as(cashier, post(path, "name", "水费", "kind", "fixed", "amount", "1", "cycle", "monthly")); r.StatusCode != 403 {
		t.Fatalf("cashier writes: %d", r.StatusCode)
	}
	if r := f.do(rq{method: http.MethodPost, path: path, form: map[string][]string{"name": {"x"}}, cookies: []string{SessionCookie + "=" + admin.id}}); r.StatusCode != 403 {
		t.Fatalf("no CSRF token: %d", r.StatusCode)
	}
	if r := f.as(f.login("admin-b"), post(path, "name", "水费", "kind", "fixed", "amount", "1", "cycle", "monthly")); r.StatusCode != 404 {
		t.Fatalf("another company: %d", r.StatusCode)
	}
}

// The import page: a file with bad rows is refused with each row's error
// (row, column, message, escaped) and nothing written; a good one goes on
// to the job's page, which writes only with this session's step token and
// refreshes itself until done.
func TestImportPages(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	path := "/admin/communities/" + cmA + "/imports"
	if r := f.as(admin, get(path)); r.StatusCode != 200 || !strings.Contains(r.Body, `enctype="multipart/form-data"`) {
		t.Fatalf("form: %d", r.StatusCode)
	}
	bad := "楼栋,单元,房号,业主姓名,手机号,面积\n1,1,101,张三,13800000009,90\n1,1,102,李四,12345,\n1,1,103,王五,,abc\n1,1,<i>9</i>,甲,,\n1,1,<i>9</i>,乙,,\n"
	r := f.upload(admin, path, admin.csrf, nil, map[string][]byte{"houses": []byte(bad)})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad file: %d %.500s", r.StatusCode, r.Body)
	}
	rows := regexp.MustCompile(`<tr><td class="num">(\d+)</td><td>([^<]*)</td><td class="err">([^<]*)</td></tr>`).FindAllStringSubmatch(r.Body, -1)
	if len(rows) < 3 || !strings.Contains(r.Body, "未导入任何数据") || strings.Contains(r.Body, "<i>9") || !strings.Contains(r.Body, "&lt;i&gt;9&lt;/i&gt; 与第 5 行重复") {
		t.Fatalf("row errors: %v\n%.3000s", rows, r.Body)
	}
	seen := map[string]bool{}
	for _, m := range rows {
		seen[m[1]+"/"+m[2]] = true
	}
	if !seen["3/手机号"] || !seen["4/面积"] || !seen["6/房号"] {
		t.Fatalf("errors by row/column: %v", seen)
	}
	if pg, _ := f.st.HouseRepo().ListHouses(context.Background(), coA, cmA, "1", "1", "", 10); len(pg.Items) != 0 {
		t.Fatalf("a refused file wrote %d houses", len(pg.Items))
	}

	// Without the CSRF token: refused before anything is read.
	if r := f.upload(admin, path, "", nil, map[string][]byte{"houses": []byte("楼栋,单元,房号\n1,1,101\n")}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("no csrf: %d", r.StatusCode)
	}
	// No file chosen.
	if r := f.upload(admin, path, admin.csrf, nil, nil); r.StatusCode != 400 || !strings.Contains(r.Body, "请选择要导入的文件") {
		t.Fatalf("no file: %d %.300s", r.StatusCode, r.Body)
	}
	// A cashier may not import.
	cashier := f.login("cashier-a")
	if r := f.upload(cashier, path, cashier.csrf, nil, map[string][]byte{"houses": []byte("楼栋,单元,房号\n1,1,101\n")}); r.StatusCode != 403 {
		t.Fatalf("cashier: %d", r.StatusCode)
	}

	// A good file (UTF-8 with BOM, as Excel saves it): on to the job page.
	good := "\ufeff楼栋,单元,房号,业主姓名,手机号,面积\n1,1,101,张三,13800000009,90\n1,1,102,李四,,75.5\n"
	r = f.upload(admin, path, admin.csrf, nil, map[string][]byte{"houses": []byte(good)})
	loc := r.Headers["Location"]
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/admin/imports/") || !strings.Contains(loc, "step=") {
		t.Fatalf("good file: %d %s %.300s", r.StatusCode, loc, r.Body)
	}
	r = f.as(admin, get(loc))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "导入完成") || !strings.Contains(r.Body, `<progress id="progress" value="2" max="2">`) ||
		strings.Contains(r.Body, `http-equiv="refresh"`) {
		t.Fatalf("job page: %d %.2000s", r.StatusCode, r.Body)
	}
	hs, _ := f.st.HouseRepo().GetHouse(context.Background(), coA, house.ID(coA, cmA, "1", "1", "101"))
	if hs.OwnerName != "张三" || hs.Building != "1" {
		t.Fatalf("the BOM file's first column: %+v", hs)
	}

	// A job still writing: a GET without the step (or with another
	// session's) shows the 继续 button and writes nothing; with this
	// session's step it writes and refreshes.
	im := f.h.importer()
	im.ProgressEvery = 1
	var big strings.Builder
	big.WriteString("楼栋,单元,房号\n")
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&big, "3,1,%d\n", 100+i)
	}
	j, err := im.Start(context.Background(), coA, cmA, bills.Files{Houses: []byte(big.String()), HousesName: "big.csv"}, "test")
	if err != nil || j.State != bills.JobWriting {
		t.Fatalf("%+v %v", j, err)
	}
	jobPath := "/admin/imports/" + j.ID
	other := f.login("admin-a") // a new session of the same admin (the old one is squeezed out in the fake)
	for _, u := range []string{jobPath, jobPath + "?step=forged", jobPath + "?step=" + stepToken(&call{p: Principal{CSRF: admin.csrf}}, j.ID)} {
		r := f.as(other, get(u))
		if r.StatusCode != 200 || !strings.Contains(r.Body, `id="continue"`) || strings.Contains(r.Body, "http-equiv") || !strings.Contains(r.Body, `value="0"`) {
			t.Fatalf("%s: %d %.2000s", u, r.StatusCode, r.Body)
		}
	}
	if got, _ := f.st.ImportRepo().GetJob(context.Background(), coA, j.ID); got.Written != 0 {
		t.Fatalf("a GET without the step wrote %d rows", got.Written)
	}
	// 继续 (POST) writes and hands over the step.
	r = f.as(other, post(jobPath+"/run"))
	if r.StatusCode != http.StatusFound || !strings.Contains(r.Headers["Location"], "step=") {
		t.Fatalf("继续: %d", r.StatusCode)
	}
	r = f.as(other, get(r.Headers["Location"]))
	if r.StatusCode != 200 || !strings.Contains(r.Body, "导入完成") {
		t.Fatalf("after 继续: %.2000s", r.Body)
	}
	// Another company's job is not found; a cashier may not follow one.
	if r := f.as(f.login("admin-b"), get(jobPath)); r.StatusCode != 404 {
		t.Fatalf("another company's job: %d", r.StatusCode)
	}
	if r := f.as(f.login("admin-b"), post(jobPath+"/run")); r.StatusCode != 404 {
		t.Fatalf("another company's job run: %d", r.StatusCode)
	}
	if r := f.as(cashier, get(jobPath)); r.StatusCode != 403 {
		t.Fatalf("cashier job: %d", r.StatusCode)
	}
}

// A job page of a job that is still writing refreshes itself with the step.
func TestImportJobRefreshes(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	im := f.h.importer()
	j, err := im.Start(context.Background(), coA, cmA, bills.Files{Houses: []byte("楼栋,单元,房号\n4,1,101\n4,1,102\n"), HousesName: "h.csv"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Another writer holds the community: the step cannot write, the page
	// keeps following.
	ctx := context.Background()
	if err := f.st.ImportRepo().Lock(ctx, coA, cmA, "someone", f.h.now().Add(10*60e9), f.h.now()); err != nil {
		t.Fatal(err)
	}
	step := stepToken(&call{p: Principal{CSRF: admin.csrf}}, j.ID)
	r := f.as(admin, get("/admin/imports/"+j.ID+"?step="+step))
	want := `<meta http-equiv="refresh" content="1;url=/admin/imports/` + j.ID + `?step=` + step + `">`
	if r.StatusCode != 200 || !strings.Contains(r.Body, want) || !strings.Contains(r.Body, "正在写入") || strings.Contains(r.Body, `id="continue"`) {
		t.Fatalf("running job page: %.2000s", r.Body)
	}
	if err := f.st.ImportRepo().Unlock(ctx, coA, cmA, "someone"); err != nil {
		t.Fatal(err)
	}
	if r := f.as(admin, get("/admin/imports/"+j.ID+"?step="+step)); !strings.Contains(r.Body, "导入完成") || strings.Contains(r.Body, "http-equiv") {
		t.Fatalf("after the lock: %.2000s", r.Body)
	}
}

// Uploads: the 10 MB cap (the page says so; the API answers 413 JSON), a
// multipart body with both files and plain fields.
func TestUploadLimitsAndParsing(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	huge := bytes.Repeat([]byte("1,1,101,张三,,\n"), sheet.MaxBytes/16+1)
	huge = append([]byte("楼栋,单元,房号,业主姓名,手机号,面积\n"), huge...)
	r := f.upload(admin, "/admin/communities/"+cmA+"/imports", admin.csrf, nil, map[string][]byte{"houses": huge})
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, "10 MB") {
		t.Fatalf("page, 10 MB: %d %.300s", r.StatusCode, r.Body)
	}
	req := web.Request{RawPath: "/admin/api/communities/" + cmA + "/imports", QueryStringParameters: map[string]string{"kind": "houses"},
		Cookies: []string{SessionCookie + "=" + admin.id}, Headers: map[string]string{"content-type": "text/csv", "x-csrf-token": admin.csrf},
		Body: base64.StdEncoding.EncodeToString(bytes.Repeat(huge, 2)), IsBase64Encoded: true}
	req.RequestContext.HTTP.Method, req.RequestContext.HTTP.Path = http.MethodPost, req.RawPath
	api, _ := f.h.Handle(context.Background(), req)
	if api.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, api) != "too_large" {
		t.Fatalf("api, 20 MB: %d %s", api.StatusCode, api.Body)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", "tok")
	mw.WriteField("company", "co-x")
	w, _ := mw.CreateFormFile("houses", "房屋.csv")
	w.Write([]byte("楼栋,单元,房号\n1,1,101\n"))
	w, _ = mw.CreateFormFile("bills", "账单.xlsx")
	w.Write([]byte("bills"))
	w, _ = mw.CreateFormFile("other", "x.csv")
	w.Write([]byte("ignored"))
	mw.Close()
	fields, err := multipartFields(body.Bytes(), mw.Boundary())
	if err != nil || fields.Get("csrf") != "tok" || fields.Get("company") != "co-x" || fields.Has("houses") {
		t.Fatalf("fields %v %v", fields, err)
	}
	c := &call{body: body.Bytes(), req: web.Request{Headers: map[string]string{"content-type": mw.FormDataContentType()}}}
	files, msg := uploadFiles(c)
	if msg != "" || string(files.Bills) != "bills" || files.HousesName != "房屋.csv" || files.BillsName != "账单.xlsx" || !bytes.HasPrefix(files.Houses, []byte("楼栋")) {
		t.Fatalf("files %+v %q", files, msg)
	}
	if _, err := multipartFields(body.Bytes(), ""); err == nil {
		t.Fatal("no boundary accepted")
	}
	if _, err := multipartFields([]byte("garbage"), "b"); err == nil {
		t.Fatal("garbage accepted")
	}
}

// The CSV export of a few thousand bills: every bill once, with the header
// and the BOM, gzipped for a client that accepts it.
func TestBillsCSVRowCount(t *testing.T) {
	f := newFixture(t)
	admin := f.login("admin-a")
	const houses, months = 250, 12 // 3,000 bills
	var hb, bb strings.Builder
	hb.WriteString("楼栋,单元,房号,业主姓名,手机号,面积\n")
	bb.WriteString("楼栋,单元,房号,收费项目,账期,金额\n")
	for i := 0; i < houses; i++ {
		fmt.Fprintf(&hb, "%d,1,%d,业主,,\n", 10+i/50, 100+i%50)
		for m := 1; m <= months; m++ {
			fmt.Fprintf(&bb, "%d,1,%d,物业费,2025-%02d,12.34\n", 10+i/50, 100+i%50, m)
		}
	}
	importFiles(t, f, coA, cmA, bills.Files{Houses: []byte(hb.String()), Bills: []byte(bb.String())})
	want := houses*months + 2 // and the fixture's notice house
	for _, gz := range []bool{false, true} {
		rq := get("/admin/api/communities/" + cmA + "/bills.csv")
		if gz {
			rq.headers = map[string]string{"Accept-Encoding": "gzip"}
		}
		r := f.as(admin, rq)
		body := []byte(r.Body)
		if r.IsBase64Encoded {
			body, _ = base64.StdEncoding.DecodeString(r.Body)
		}
		if gz {
			if r.Headers["Content-Encoding"] != "gzip" {
				t.Fatal("not gzipped")
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
		}
		if !bytes.HasPrefix(body, []byte("\ufeff楼栋")) {
			t.Fatalf("no BOM and header: %.40q", body)
		}
		recs, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, rec := range recs[1:] {
			ids[rec[9]] = true
		}
		if len(recs)-1 != want || len(ids) != want {
			t.Fatalf("gzip %v: %d rows, %d distinct, want %d", gz, len(recs)-1, len(ids), want)
		}
	}
	// The period filter: one month of the imported houses.
	r := f.as(admin, get("/admin/api/communities/"+cmA+"/bills.csv?period=2025-03"))
	if n := strings.Count(r.Body, "\r\n") - 1; n != houses {
		t.Fatalf("March: %d rows, want %d", n, houses)
	}
}
