package domain

import "testing"

func TestInterfaceStatusFlow(t *testing.T) {
	all := []InterfaceStatus{StatusApplying, StatusAuthPending, StatusApproved, StatusRejected, StatusDisabled, StatusUnconfigured, "bogus"}
	allowed := map[Channel]map[[2]InterfaceStatus]bool{
		WeChat: {
			{StatusApplying, StatusApproved}: true, {StatusApplying, StatusRejected}: true,
			{StatusRejected, StatusApplying}: true, {StatusApproved, StatusDisabled}: true, {StatusDisabled, StatusApproved}: true,
			// A WeChat interface never waits for an Alipay authorisation, but
			// one left there (data written by hand) can still be decided.
			{StatusAuthPending, StatusApproved}: true, {StatusAuthPending, StatusRejected}: true,
		},
		Alipay: {
			{StatusApplying, StatusAuthPending}: true, {StatusApplying, StatusApproved}: true, {StatusApplying, StatusRejected}: true,
			{StatusAuthPending, StatusApproved}: true, {StatusAuthPending, StatusRejected}: true,
			{StatusRejected, StatusApplying}: true, {StatusApproved, StatusDisabled}: true, {StatusDisabled, StatusApproved}: true,
		},
		"unionpay": {},
	}
	for ch, ok := range allowed {
		for _, from := range all {
			for _, to := range all {
				if got := CanMoveInterface(ch, from, to); got != ok[[2]InterfaceStatus{from, to}] {
					t.Errorf("%s %q→%q = %v", ch, from, to, got)
				}
			}
		}
	}
	if s := InterfaceSteps(Alipay); len(s) != 3 || s[1] != StatusAuthPending {
		t.Errorf("alipay steps %v", s)
	}
	if s := InterfaceSteps(WeChat); len(s) != 2 {
		t.Errorf("wechat steps %v", s)
	}
	for s, want := range map[InterfaceStatus]string{StatusApplying: "申请中", StatusAuthPending: "支付宝授权待确认", StatusApproved: "申请成功", StatusRejected: "驳回", "": "未配置"} {
		if got := InterfaceStatusLabel(s); got != want {
			t.Errorf("label %q = %s", s, got)
		}
	}
}
