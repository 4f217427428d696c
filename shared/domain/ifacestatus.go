package domain

// InterfaceStatusLabel is the status as people read it (the console, C2's
// wording).
func InterfaceStatusLabel(s InterfaceStatus) string {
	switch s {
	case StatusApplying:
		return "申请中"
	case StatusAuthPending:
		return "支付宝授权待确认"
	case StatusApproved:
		return "申请成功"
	case StatusRejected:
		return "驳回"
	case StatusDisabled:
		return "已停用"
	}
	return "未配置"
}

// InterfaceSteps are the statuses an application passes through on its way
// to approval, in order: WeChat Pay 申请中 → 申请成功; Alipay 申请中 →
// 支付宝授权待确认 → 申请成功.
func InterfaceSteps(ch Channel) []InterfaceStatus {
	if ch == Alipay {
		return []InterfaceStatus{StatusApplying, StatusAuthPending, StatusApproved}
	}
	return []InterfaceStatus{StatusApplying, StatusApproved}
}

// NextInterfaceStatuses are the statuses an interface of channel ch may move
// to from "from": forward along its steps, to 驳回 while applying, back to
// 申请中 after a rejection (a new application), and between 申请成功 and 已停用.
// A new interface starts at 申请中.
func NextInterfaceStatuses(ch Channel, from InterfaceStatus) []InterfaceStatus {
	switch from {
	case StatusApplying:
		if ch == Alipay {
			return []InterfaceStatus{StatusAuthPending, StatusApproved, StatusRejected}
		}
		return []InterfaceStatus{StatusApproved, StatusRejected}
	case StatusAuthPending:
		return []InterfaceStatus{StatusApproved, StatusRejected}
	case StatusRejected:
		return []InterfaceStatus{StatusApplying}
	case StatusApproved:
		return []InterfaceStatus{StatusDisabled}
	case StatusDisabled:
		return []InterfaceStatus{StatusApproved}
	}
	return nil
}

// CanMoveInterface reports whether an interface of channel ch may go from
// "from" to "to".
func CanMoveInterface(ch Channel, from, to InterfaceStatus) bool {
	if ch != WeChat && ch != Alipay {
		return false
	}
	for _, s := range NextInterfaceStatuses(ch, from) {
		if s == to {
			return true
		}
	}
	return false
}
