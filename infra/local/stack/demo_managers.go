package stack

import (
	"context"
	"errors"
	"time"

	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/shared/domain/managercode"
	"github.com/estatepay/estatepay/shared/store"
)

// The demo business manager's codes (issue 11): the default code paying
// through 阳光花园 (demo-both: both apps, 房号 asked) and an extra code
// presetting 房号, as an admin would configure it in the console. Written
// once; the manager's refreshes (and admins' edits) are kept across
// restarts.
const (
	DemoManagerID        = "demo-manager"
	DemoManagerExtraID   = "mcdemo1"
	DemoManagerExtraRoom = "3-2-1201"
)

func seedDemoManagerCodes(ctx context.Context, st *store.Store) error {
	_, err := st.GetManagerCodes(ctx, DemoManagerID)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := time.Now()
	set, err := managercode.New(DemoManagerID, DemoCompanyID, "demo-both", newToken(), now)
	if err != nil {
		return err
	}
	col, err := st.LoadCommunity(ctx, "demo-both")
	if err != nil {
		return err
	}
	if _, err := set.AddExtra(DemoManagerExtraID, "示例客户（房号已预设）", newToken(), map[string]string{"room": DemoManagerExtraRoom}, col.PayerFields(), now); err != nil {
		return err
	}
	if err := st.CreateManagerCodes(ctx, set, managerName()); errors.Is(err, store.ErrExists) {
		return nil
	} else if err != nil {
		return err
	}
	return nil
}

func managerName() string {
	for _, d := range demoStaff {
		if d.ID == DemoManagerID {
			return d.Name
		}
	}
	return ""
}

// demoManagerURLs puts each demo manager's current default code on their
// account entry (code_url, and wechat_code_url through the WeChat WebView).
func (s *Stack) demoManagerURLs(ctx context.Context, st *store.Store, d *Demo) error {
	ids := map[string]string{}
	for _, x := range demoStaff {
		ids[x.Phone] = x.ID
	}
	for i := range d.Accounts {
		a := &d.Accounts[i]
		if a.Role != "manager" {
			continue
		}
		set, err := st.GetManagerCodes(ctx, ids[a.Phone])
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		a.CodeURL = s.URLs.Gateway + "/c/" + set.Default.Token
		a.WeChatCodeURL = s.URLs.WeChatWebView + "/c/" + set.Default.Token
	}
	return nil
}

// AgeManagerCodes moves the end of every manager token a refresh replaced
// by d towards now — as if d had passed for those tokens (the local clock
// control of the 3-hour grace: POST <control>/manager-codes/age?by=3h). The
// current tokens have no end and are untouched. It returns how many tokens
// it moved.
func (s *Stack) AgeManagerCodes(ctx context.Context, d time.Duration) (int, error) {
	st := &store.Store{DB: dynamo.Client(s.URLs.DynamoDB), Directory: s.Tables["DirectoryTable"]}
	return store.AgeReplacedManagerTokens(ctx, st, d)
}
