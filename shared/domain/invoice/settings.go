package invoice

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Settings are a company's invoicing settings (开票设置), data an admin
// edits in the console, never code: whether residents may ask for invoices,
// for free amounts too, the seller, and per fee item the goods/service name,
// 税收分类编码 and rate. Version is the optimistic lock of the stored record.
type Settings struct {
	CompanyID       string
	Enabled         bool
	AllowFreeAmount bool
	SellerName      string
	SellerTaxNo     string
	Items           []ItemSetting // per fee item (物业费, 水费 …)
	Default         ItemSetting   // a free amount, and any fee item not listed
	Version         int64
}

// ItemSetting is how one fee item is invoiced.
type ItemSetting struct {
	FeeItem string // 物业费; "" for Default
	Name    string // 物业管理服务
	TaxCode string // 19 digits, e.g. 3040502020200000000 (物业管理服务)
	Rate    Rate
}

// ValidTaxCode reports whether s is a 税收分类编码: 19 digits.
func ValidTaxCode(s string) bool {
	if len(s) != 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (it ItemSetting) check(what string) error {
	if n := utf8.RuneCountInString(it.Name); n == 0 || n > 60 {
		return fmt.Errorf("%w: %s的商品/服务名称必填（不超过 60 字）", ErrInvalid, what)
	}
	if !ValidTaxCode(it.TaxCode) {
		return fmt.Errorf("%w: %s的税收分类编码应为 19 位数字", ErrInvalid, what)
	}
	if !it.Rate.Valid() {
		return fmt.Errorf("%w: %s的税率不在可选范围内", ErrInvalid, what)
	}
	return nil
}

// Check validates settings before they are stored. Disabled settings may be
// incomplete; enabled ones need the seller and every line's data.
func (s Settings) Check() (Settings, error) {
	s.SellerName = strings.TrimSpace(s.SellerName)
	s.SellerTaxNo = strings.ToUpper(strings.TrimSpace(s.SellerTaxNo))
	seen := map[string]bool{}
	for i := range s.Items {
		s.Items[i].FeeItem = strings.TrimSpace(s.Items[i].FeeItem)
		s.Items[i].Name = strings.TrimSpace(s.Items[i].Name)
		s.Items[i].TaxCode = strings.TrimSpace(s.Items[i].TaxCode)
		if s.Items[i].FeeItem == "" || seen[s.Items[i].FeeItem] {
			return s, fmt.Errorf("%w: 收费项目名称为空或重复", ErrInvalid)
		}
		seen[s.Items[i].FeeItem] = true
	}
	s.Default.FeeItem = ""
	s.Default.Name = strings.TrimSpace(s.Default.Name)
	s.Default.TaxCode = strings.TrimSpace(s.Default.TaxCode)
	if !s.Enabled {
		return s, nil
	}
	if n := utf8.RuneCountInString(s.SellerName); n == 0 || n > 100 {
		return s, fmt.Errorf("%w: 请填写销售方名称", ErrInvalid)
	}
	if !ValidTaxNo(s.SellerTaxNo) {
		return s, fmt.Errorf("%w: 销售方税号应为 15–20 位数字或大写字母", ErrInvalid)
	}
	if err := s.Default.check("默认项目"); err != nil {
		return s, err
	}
	for _, it := range s.Items {
		if err := it.check(it.FeeItem); err != nil {
			return s, err
		}
	}
	return s, nil
}

// For is the setting of a fee item ("" or unlisted: Default).
func (s Settings) For(feeItem string) ItemSetting {
	for _, it := range s.Items {
		if feeItem != "" && it.FeeItem == feeItem {
			return it
		}
	}
	d := s.Default
	d.FeeItem = feeItem
	return d
}

// Lines are the invoice lines of a payment's parts: parts of one fee item
// merged, in the order they first appear, each split into amount excluding
// tax and tax at its rate (rounded per line, see Split).
func (s Settings) Lines(parts []Part) ([]Line, error) {
	var lines []Line
	at := map[string]int{}
	for _, p := range parts {
		if p.Fen <= 0 {
			return nil, fmt.Errorf("%w: a part of %d fen", ErrInvalid, p.Fen)
		}
		if i, ok := at[p.FeeItem]; ok {
			lines[i].InclFen += p.Fen
			continue
		}
		it := s.For(p.FeeItem)
		if err := it.check(feeLabel(p.FeeItem)); err != nil {
			return nil, err
		}
		at[p.FeeItem] = len(lines)
		lines = append(lines, Line{Name: it.Name, TaxCode: it.TaxCode, Rate: it.Rate, InclFen: p.Fen, FeeItem: p.FeeItem})
	}
	for i := range lines {
		lines[i].ExclFen, lines[i].TaxFen = Split(lines[i].InclFen, lines[i].Rate)
	}
	return lines, nil
}

func feeLabel(f string) string {
	if f == "" {
		return "默认项目"
	}
	return f
}
