package stack

import (
	"context"
	"time"

	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/store"
)

// Reminders by official-account message in the demo (README "Arrears
// reminders"): 阳光花园's second-to-last house (DemoRemindWechatHouse) has
// a resident's WeChat bound, so `make remind` sends it the template message
// (the outbox, channel wechat_oa, template LocalRemindWechatTemplateID)
// and the SMS to the others.
const (
	// LocalRemindWechatTemplateID is the demo official account's 催缴 template (RemindWechatTemplateId).
	LocalRemindWechatTemplateID = "demo-remind-notice"
	// DemoRemindOpenID is the openid bound to DemoRemindWechatHouse.
	DemoRemindOpenID = "oDemoRemindResident0001"
)

// DemoRemindWechatHouse is the id of the demo house with a bound WeChat.
func DemoRemindWechatHouse() string {
	bd, u, r := demoPlace(demoHouses - 2)
	return house.ID(DemoCompanyID, demoBillsCommunity, bd, u, r)
}

// seedDemoRemindWechat binds DemoRemindOpenID to DemoRemindWechatHouse
// unless a WeChat is bound there already (a binding made through the
// notice page, or unbound by staff and bound again, is kept).
func seedDemoRemindWechat(ctx context.Context, st *store.Store) error {
	rem := st.ReminderRepo()
	th, err := rem.Throttle(ctx, DemoCompanyID, DemoRemindWechatHouse())
	if err != nil || th.OpenID != "" || th.Version > 0 {
		return err // a house whose throttle was ever written is left as it is
	}
	_, err = rem.SetOpenID(ctx, DemoCompanyID, DemoRemindWechatHouse(), DemoRemindOpenID, time.Now())
	return err
}
