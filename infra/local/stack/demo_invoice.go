package stack

import (
	"context"
	"errors"

	"github.com/estatepay/estatepay/shared/domain/invoice"
	"github.com/estatepay/estatepay/shared/store"
)

// DemoSellerTaxNo is the demo company's (made-up) 统一社会信用代码.
const DemoSellerTaxNo = "91310115MA1K4DEMO8"

// DemoInvoiceSettings are the demo company's invoicing settings (issue 13):
// enabled for notice payments and free amounts, 物业管理服务 at 6% as the
// default, the utilities at their own rates. Data, as an admin would enter
// them at /admin/invoicing.
func DemoInvoiceSettings() invoice.Settings {
	pm := invoice.ItemSetting{Name: "物业管理服务", TaxCode: "3040502020200000000", Rate: 600}
	return invoice.Settings{CompanyID: DemoCompanyID, Enabled: true, AllowFreeAmount: true,
		SellerName: "示例物业服务有限公司", SellerTaxNo: DemoSellerTaxNo,
		Items: []invoice.ItemSetting{
			{FeeItem: "物业费", Name: pm.Name, TaxCode: pm.TaxCode, Rate: pm.Rate},
			{FeeItem: "停车费", Name: "停车服务", TaxCode: "3040502029902000000", Rate: 900},
			{FeeItem: "水费", Name: "水", TaxCode: "1100301010000000000", Rate: 300},
			{FeeItem: "电费", Name: "电", TaxCode: "1100101020200000000", Rate: 1300},
		},
		Default: pm}
}

// seedDemoInvoice stores the demo company's invoicing settings once (an
// admin's later edits are kept).
func (s *Stack) seedDemoInvoice(ctx context.Context) error {
	table := s.Tables["InvoicesTable"]
	if table == "" {
		return nil
	}
	repo := &store.Invoices{DB: s.Store().DB, Table: table}
	cur, err := repo.InvoiceSettings(ctx, DemoCompanyID)
	if err != nil || cur.Version > 0 {
		return err
	}
	set, err := DemoInvoiceSettings().Check()
	if err != nil {
		return err
	}
	if _, err := repo.PutInvoiceSettings(ctx, set); err != nil && !errors.Is(err, store.ErrSettingsChanged) {
		return err
	}
	return nil
}
