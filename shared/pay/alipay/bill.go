package alipay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	sdk "github.com/smartwalle/alipay/v3"

	"github.com/estatepay/estatepay/shared/pay"
)

// maxBillBytes bounds a downloaded bill (a day's zip is far smaller).
const maxBillBytes = 64 << 20

// TradeBill fetches the trade bill download URL for the business day
// (Asia/Shanghai) and downloads it. Alipay serves a zip
// (<pid>_<yyyyMMdd>.csv.zip holding 业务明细 and 业务明细(汇总) CSVs); the
// bytes are returned as downloaded. See BillDetail to extract the rows.
func (p *Provider) TradeBill(ctx context.Context, day time.Time) ([]byte, error) {
	rsp, err := p.client.BillDownloadURLQuery(ctx, sdk.BillDownloadURLQuery{
		AppAuthToken: p.cfg.AppAuthToken, BillType: "trade", BillDate: day.In(cst).Format("2006-01-02"),
	})
	if err != nil {
		return nil, wrapErr("bill.downloadurl.query", err)
	}
	if !rsp.IsSuccess() {
		return nil, businessErr("bill.downloadurl.query", rsp.Error)
	}
	if rsp.BillDownloadURL == "" {
		return nil, fmt.Errorf("alipay bill: %w: empty bill_download_url", pay.ErrProvider)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rsp.BillDownloadURL, nil)
	if err != nil {
		return nil, fmt.Errorf("alipay bill: %w: %w", pay.ErrProvider, err)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("alipay bill download: %w: %w", pay.ErrProvider, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alipay bill download: %w: HTTP %d", pay.ErrProvider, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBillBytes+1))
	if err != nil {
		return nil, fmt.Errorf("alipay bill download: %w: %w", pay.ErrProvider, err)
	}
	if len(body) > maxBillBytes {
		return nil, fmt.Errorf("alipay bill download: %w: bill larger than %d bytes", pay.ErrProvider, maxBillBytes)
	}
	return body, nil
}
