package bills

import (
	"encoding/csv"
	"io"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/bill"
)

// WriteCSV writes bills as CSV for Excel: BOM, Chinese header, CRLF, yuan
// with two decimals, one bill a row as each yields them (nothing is held:
// a 100k-bill export streams). status names a status for people; defuse
// makes a cell safe for spreadsheets (formula-like cells prefixed).
func WriteCSV(w io.Writer, each func(func(bill.Bill) error) error, status func(bill.Status) string, defuse func(string) string) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write([]string{"楼栋", "单元", "房号", "收费项目", "账期", "金额（元）", "到期日", "状态", "缴费时间", "账单号"}); err != nil {
		return err
	}
	err := each(func(b bill.Bill) error {
		paid := ""
		if !b.PaidAt.IsZero() {
			paid = b.PaidAt.Format(time.RFC3339)
		}
		row := []string{b.Building, b.Unit, b.Room, b.FeeItem, b.Period, domain.FormatYuan(b.AmountFen), string(b.DueDate), status(b.Status), paid, b.ID}
		for i := range row {
			row[i] = defuse(row[i])
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
