// Package importfile reads the houses and bills files companies upload (X6):
// the rows of a spreadsheet (shared/sheet) with Chinese headers, each row
// checked on its own and against the other rows of the file (duplicates).
// What needs the store (a bill's house, its fee item) is checked by the
// importer (shared/bills). Row numbers are the spreadsheet's: the header is
// row 1.
package importfile

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/sheet"
)

// MaxErrors is how many row errors are kept (Errors.Count counts them all).
const MaxErrors = 200

// RowError is one problem of one row: its spreadsheet row number (0: the
// file as a whole), the column (its header) and a Chinese message.
type RowError struct {
	Row     int    `json:"row"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

func (e RowError) String() string {
	switch {
	case e.Row == 0:
		return e.Message
	case e.Column == "":
		return fmt.Sprintf("第 %d 行：%s", e.Row, e.Message)
	}
	return fmt.Sprintf("第 %d 行【%s】：%s", e.Row, e.Column, e.Message)
}

// Errors collects row errors: the first MaxErrors, and how many in all.
type Errors struct {
	List  []RowError `json:"errors"`
	Count int        `json:"error_count"`
}

// Add records one error.
func (e *Errors) Add(row int, column, msg string) {
	e.Count++
	if len(e.List) < MaxErrors {
		e.List = append(e.List, RowError{Row: row, Column: column, Message: msg})
	}
}

// Columns of the files (the first name is the one the template uses; the
// others are accepted too).
var (
	colBuilding = []string{"楼栋", "楼号", "栋"}
	colUnit     = []string{"单元"}
	colRoom     = []string{"房号", "房间号", "室号"}
	colOwner    = []string{"业主姓名", "业主", "姓名"}
	colPhone    = []string{"手机号", "手机", "联系电话", "电话"}
	colArea     = []string{"面积", "建筑面积", "面积（㎡）", "面积(㎡)", "面积（m²）", "面积(m²)"}
	colFee      = []string{"收费项目", "项目"}
	colPeriod   = []string{"账期", "所属期", "期间"}
	colAmount   = []string{"金额", "金额（元）", "金额(元)", "应收金额"}
	colDue      = []string{"到期日", "截止日期", "缴费截止日"}
)

// HousesHeader and BillsHeader are the template header rows.
var (
	HousesHeader = []string{"楼栋", "单元", "房号", "业主姓名", "手机号", "面积"}
	BillsHeader  = []string{"楼栋", "单元", "房号", "收费项目", "账期", "金额", "到期日"}
)

type header map[string]int // first column name → index

func readHeader(row []string, required, optional [][]string, errs *Errors) header {
	h := header{}
	for _, names := range append(append([][]string{}, required...), optional...) {
		for i, cell := range row {
			for _, n := range names {
				if cell == n {
					if _, seen := h[names[0]]; !seen {
						h[names[0]] = i
					}
				}
			}
		}
	}
	for _, names := range required {
		if _, ok := h[names[0]]; !ok {
			errs.Add(1, names[0], "缺少“"+names[0]+"”列（第 1 行应为表头）")
		}
	}
	return h
}

func (h header) get(row []string, col string) string {
	i, ok := h[col]
	if !ok || i >= len(row) {
		return ""
	}
	return row[i]
}

// HouseRow is one house of a houses file and its row number.
type HouseRow struct {
	Row   int
	House house.House
}

// Houses reads a houses file: 楼栋, 单元, 房号, 业主姓名, 手机号, 面积 (楼栋
// and 房号 required). Empty rows are skipped; a house twice is an error.
func Houses(rows [][]string, companyID, communityID string, at time.Time) ([]HouseRow, Errors) {
	var errs Errors
	if len(rows) == 0 {
		errs.Add(0, "", "文件中没有内容")
		return nil, errs
	}
	h := readHeader(rows[0], [][]string{colBuilding, colRoom}, [][]string{colUnit, colOwner, colPhone, colArea}, &errs)
	if errs.Count > 0 {
		return nil, errs
	}
	seen := map[string]int{}
	var out []HouseRow
	for i, row := range rows[1:] {
		n := i + 2
		if sheet.Empty(row) {
			continue
		}
		hs, err := house.New(house.House{CompanyID: companyID, CommunityID: communityID,
			Building: h.get(row, "楼栋"), Unit: h.get(row, "单元"), Room: h.get(row, "房号"),
			OwnerName: h.get(row, "业主姓名"), OwnerPhone: h.get(row, "手机号"), AreaM2: h.get(row, "面积")}, at)
		if err != nil {
			msg := house.Message(err)
			errs.Add(n, columnOf(msg), msg)
			continue
		}
		if first, dup := seen[hs.ID]; dup {
			errs.Add(n, "房号", fmt.Sprintf("%s 与第 %d 行重复", hs.Label(), first))
			continue
		}
		seen[hs.ID] = n
		out = append(out, HouseRow{Row: n, House: hs})
	}
	if len(out) == 0 && errs.Count == 0 {
		errs.Add(0, "", "文件中没有房屋数据")
	}
	return out, errs
}

// columnOf is the column a house.New message is about (its messages start
// with the column's name).
func columnOf(msg string) string {
	for _, c := range [][2]string{{"业主手机号", "手机号"}, {"业主姓名", "业主姓名"}, {"楼栋", "楼栋"}, {"单元", "单元"}, {"房号", "房号"}, {"面积", "面积"}} {
		if strings.HasPrefix(msg, c[0]) {
			return c[1]
		}
	}
	return ""
}

// BillRow is one bill of a bills file: where the house is, the fee item,
// the period, the amount (0: the fee item's price) and the due date.
type BillRow struct {
	Row                  int
	Building, Unit, Room string
	FeeItem              string
	Period               string // YYYY-MM
	AmountFen            int64  // 0 when the file gives none
	DueDate              calendar.Day
}

// HouseID is the id of the row's house in a company's community.
func (b BillRow) HouseID(companyID, communityID string) string {
	return house.ID(companyID, communityID, b.Building, b.Unit, b.Room)
}

// Bills reads a bills file: 楼栋, 单元, 房号, 收费项目, 账期, 金额, 到期日 (楼栋,
// 房号, 收费项目, 账期 required; 金额 empty takes the fee item's price; 到期日
// empty is the last day of the period). The same house, fee item and period
// twice is an error.
func Bills(rows [][]string) ([]BillRow, Errors) {
	var errs Errors
	if len(rows) == 0 {
		errs.Add(0, "", "文件中没有内容")
		return nil, errs
	}
	h := readHeader(rows[0], [][]string{colBuilding, colRoom, colFee, colPeriod}, [][]string{colUnit, colAmount, colDue}, &errs)
	if errs.Count > 0 {
		return nil, errs
	}
	seen := map[string]int{}
	var out []BillRow
	for i, row := range rows[1:] {
		n := i + 2
		if sheet.Empty(row) {
			continue
		}
		b := BillRow{Row: n, Building: h.get(row, "楼栋"), Unit: h.get(row, "单元"), Room: h.get(row, "房号"), FeeItem: h.get(row, "收费项目")}
		bad := errs.Count
		// The place: checked as a house would be.
		if _, err := house.New(house.House{CompanyID: "-", CommunityID: "-", Building: b.Building, Unit: b.Unit, Room: b.Room}, time.Unix(0, 0)); err != nil {
			msg := house.Message(err)
			errs.Add(n, columnOf(msg), msg)
		}
		if err := bill.CheckFeeItemName(b.FeeItem); err != nil {
			errs.Add(n, "收费项目", bill.Message(err))
		}
		p, ok := ParsePeriod(h.get(row, "账期"))
		if !ok {
			errs.Add(n, "账期", "账期格式应为 2026-11、2026/11 或 2026年11月")
		}
		b.Period = p
		if s := h.get(row, "金额"); s != "" {
			fen, err := parseAmount(s)
			if err != "" {
				errs.Add(n, "金额", err)
			}
			b.AmountFen = fen
		}
		if s := h.get(row, "到期日"); s != "" {
			d, ok := ParseDay(s)
			if !ok {
				errs.Add(n, "到期日", "到期日格式应为 2026-11-30、2026/11/30 或 2026年11月30日")
			}
			b.DueDate = d
		} else if ok {
			b.DueDate = lastDay(p)
		}
		if errs.Count > bad {
			continue
		}
		key := strings.Join([]string{b.Building, b.Unit, b.Room, b.FeeItem, b.Period}, "\x00")
		if first, dup := seen[key]; dup {
			errs.Add(n, "", fmt.Sprintf("%s %s %s 与第 %d 行重复", house.Label(b.Building, b.Unit, b.Room), b.Period, b.FeeItem, first))
			continue
		}
		seen[key] = n
		out = append(out, b)
	}
	if len(out) == 0 && errs.Count == 0 {
		errs.Add(0, "", "文件中没有账单数据")
	}
	return out, errs
}

func parseAmount(s string) (int64, string) {
	s = strings.TrimSuffix(strings.TrimLeft(s, "¥￥"), "元")
	s = strings.ReplaceAll(s, ",", "")
	fen, err := domain.ParseYuan(s)
	switch {
	case err != nil:
		return 0, "金额应为元，最多两位小数，例如 120.50"
	case fen <= 0:
		return 0, "金额必须大于 0"
	case fen > bill.MaxFeeFen:
		return 0, "金额不能超过 1000000 元"
	}
	return int64(fen), ""
}

var (
	periodRE = regexp.MustCompile(`^([0-9]{4})\s*(?:-|/|\.|年)\s*([0-9]{1,2})\s*月?$`)
	compact  = regexp.MustCompile(`^([0-9]{4})([0-9]{2})$`)
	dayRE    = regexp.MustCompile(`^([0-9]{4})\s*(?:-|/|\.|年)\s*([0-9]{1,2})\s*(?:-|/|\.|月)\s*([0-9]{1,2})\s*日?$`)
	serialRE = regexp.MustCompile(`^[0-9]{5}(\.[0-9]+)?$`)
)

// ParsePeriod reads a period: 2026-11, 2026/11, 2026.11, 2026年11月, 202611,
// or an Excel date cell (its serial number) → "2026-11".
func ParsePeriod(s string) (string, bool) {
	var y, m int
	if g := periodRE.FindStringSubmatch(s); g != nil {
		y, _ = strconv.Atoi(g[1])
		m, _ = strconv.Atoi(g[2])
	} else if g := compact.FindStringSubmatch(s); g != nil {
		y, _ = strconv.Atoi(g[1])
		m, _ = strconv.Atoi(g[2])
	} else if t, ok := excelDate(s); ok {
		y, m = t.Year(), int(t.Month())
	} else {
		return "", false
	}
	if y < 2000 || y > 2099 || m < 1 || m > 12 {
		return "", false
	}
	return fmt.Sprintf("%04d-%02d", y, m), true
}

// ParseDay reads a date: 2026-11-30, 2026/11/30, 2026.11.30, 2026年11月30日,
// or an Excel date cell's serial number.
func ParseDay(s string) (calendar.Day, bool) {
	var t time.Time
	if g := dayRE.FindStringSubmatch(s); g != nil {
		y, _ := strconv.Atoi(g[1])
		m, _ := strconv.Atoi(g[2])
		d, _ := strconv.Atoi(g[3])
		t = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		if t.Year() != y || int(t.Month()) != m || t.Day() != d {
			return "", false // 2026-02-30
		}
	} else if et, ok := excelDate(s); ok {
		t = et
	} else {
		return "", false
	}
	if t.Year() < 2000 || t.Year() > 2099 {
		return "", false
	}
	return calendar.Day(t.Format(calendar.DayLayout)), true
}

// excelDate reads an Excel serial date (days since 1899-12-30).
func excelDate(s string) (time.Time, bool) {
	if !serialRE.MatchString(s) {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(f)), true
}

func lastDay(period string) calendar.Day {
	t, _ := time.Parse("2006-01", period)
	return calendar.Day(t.AddDate(0, 1, -1).Format(calendar.DayLayout))
}
