package stack

import (
	"context"
	"errors"
	"time"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/fenfu"
	"github.com/estatepay/estatepay/shared/store"
)

// The demo's 分付 (F1): the demo company's WeChat Pay merchant (demo-wechat)
// is enabled — its interface carries store.FenfuEnabled (seedDemoInterfaces)
// and its application is APPROVED — so paying it offers 分付; the second
// company has a WeChat Pay interface still being applied for
// (DemoFenfuPendingIfaceID) whose 分付 application waits in the operator's
// queue (/admin/fenfu-review).

// DemoFenfuPendingIfaceID is the second company's WeChat Pay interface with
// a submitted 分付 application.
const DemoFenfuPendingIfaceID = "demo-wechat-2"

// seedDemoFenfu writes the applications (and the second company's
// interface) when missing; a state directory keeps what people did since.
func seedDemoFenfu(ctx context.Context, st *store.Store, now time.Time) error {
	if _, _, err := st.GetFenfuApplication(ctx, "demo-wechat"); errors.Is(err, store.ErrNotFound) {
		a := fenfu.Application{ID: "demo-wechat", CompanyID: DemoCompanyID, MerchantID: DemoWeChatMchID, Industry: fenfu.Services,
			LicenceNo: "91310000MA1DEMO001", LicenceExpiry: fenfu.LongTerm, TradeLicence: "物业服务企业资质证书（示例）",
			HistoryEvidence: "示例：商户平台近 3 个月交易账单", DepositAck: true, DepositFen: 200000, Status: fenfu.Draft}
		f := fenfu.Facts{Now: now}
		if err := a.Submit(f, "demo-admin"); err != nil {
			return err
		}
		if err := a.Approve(f, "demo-operator"); err != nil {
			return err
		}
		if _, err := st.SaveFenfuApplication(ctx, a, 0); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := st.GetInterface(ctx, DemoFenfuPendingIfaceID); errors.Is(err, store.ErrNotFound) {
		i := store.Interface{ID: DemoFenfuPendingIfaceID, CompanyID: SecondCompanyID, Channel: domain.WeChat, Status: domain.StatusApplying,
			Mode: "direct", AppID: "wx8888888888888802", MchID: "1900000002"}
		if err := st.CreateInterface(ctx, i); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, _, err := st.GetFenfuApplication(ctx, DemoFenfuPendingIfaceID); errors.Is(err, store.ErrNotFound) {
		a := fenfu.Application{ID: DemoFenfuPendingIfaceID, CompanyID: SecondCompanyID, MerchantID: "1900000002", Industry: fenfu.Catering,
			LicenceNo: "91310000MA1DEMO002", LicenceExpiry: "2030-12-31", FoodLicenceNo: "JY13101000000002", StoreAddress: "示例路 2 号（物业服务中心食堂）",
			DepositAck: true, DepositFen: 300000, Status: fenfu.Draft}
		if err := a.Submit(fenfu.Facts{Now: now}, "demo-admin-2"); err != nil {
			return err
		}
		if _, err := st.SaveFenfuApplication(ctx, a, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	} else if err != nil {
		return err
	}
	return nil
}
