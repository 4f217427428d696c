package main

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/estatepay/estatepay/shared/web"
)

// route is one entry of the console's routing table: a method and a path
// pattern ("/admin/communities/{id}"; a {name} spans one whole segment) to
// a handler, with the action the caller's role must be allowed (permissions.go).
// Public routes need no session (login, set password).
type route struct {
	method  string
	pattern string
	action  Action
	public  bool
	upload  bool // a file upload: a body up to 10 MB (pages: multipart/form-data too)
	handle  func(h *Handler, ctx context.Context, c *call) web.Response
}

// routes is the whole console. Template: AdminFunction serves ANY /admin,
// ANY /admin/{proxy+}, ANY /m and ANY /m/{proxy+} (the managers' app);
// everything else is decided here.
var routes []route

// register adds routes (each file registers its own in init).
func register(rs ...route) { routes = append(routes, rs...) }

func init() {
	register(
		route{method: "GET", pattern: "/admin", action: actSignedIn, handle: (*Handler).home},

		// Signing in and out.
		route{method: "GET", pattern: "/admin/login", public: true, handle: (*Handler).loginForm},
		route{method: "POST", pattern: "/admin/login", public: true, handle: (*Handler).loginSubmit},
		route{method: "POST", pattern: "/admin/login/sms", public: true, handle: (*Handler).smsSubmit},
		route{method: "GET", pattern: "/admin/set-password", public: true, handle: (*Handler).setPasswordForm},
		route{method: "POST", pattern: "/admin/set-password", public: true, handle: (*Handler).setPasswordSubmit},
		route{method: "POST", pattern: "/admin/logout", action: actSignedIn, handle: (*Handler).logout},

		// Companies (operator).
		route{method: "GET", pattern: "/admin/companies", action: ActCompanyManage, handle: (*Handler).companies},
		route{method: "POST", pattern: "/admin/companies", action: ActCompanyManage, handle: (*Handler).createCompany},
		route{method: "GET", pattern: "/admin/companies/{cid}", action: ActCompanyManage, handle: (*Handler).company},
		route{method: "POST", pattern: "/admin/companies/{cid}", action: ActCompanyManage, handle: (*Handler).updateCompany},

		// Communities, 微信支付设置, codes.
		route{method: "GET", pattern: "/admin/communities", action: ActCommunityView, handle: (*Handler).communities},
		route{method: "POST", pattern: "/admin/communities", action: ActCommunityManage, handle: (*Handler).createCommunity},
		route{method: "GET", pattern: "/admin/communities/{id}", action: ActCommunityView, handle: (*Handler).community},
		route{method: "POST", pattern: "/admin/communities/{id}", action: ActCommunityManage, handle: (*Handler).updateCommunity},
		route{method: "POST", pattern: "/admin/communities/{id}/wechat", action: ActCommunityManage, handle: (*Handler).associateWeChat},
		route{method: "POST", pattern: "/admin/communities/{id}/codes", action: ActCommunityManage, handle: (*Handler).createCode},
		route{method: "POST", pattern: "/admin/codes/{token}/revoke", action: ActCommunityManage, handle: (*Handler).revokeCode},
		route{method: "POST", pattern: "/admin/codes/{token}/rotate", action: ActCommunityManage, handle: (*Handler).rotateCode},
		// F7, dyncode.go: 动态码 only, and the counter display of a community code.
		route{method: "POST", pattern: "/admin/codes/{token}/dynamic-only", action: ActCommunityManage, handle: (*Handler).setDynamicOnly},
		route{method: "GET", pattern: "/admin/codes/{token}/screen", action: ActCommunityView, handle: (*Handler).codeScreen},
		route{method: "GET", pattern: "/admin/api/codes/{token}/screen", action: ActCommunityView, handle: (*Handler).apiCodeScreen},

		// Payer fields (M5) per company, community, code.
		route{method: "GET", pattern: "/admin/payer-fields", action: ActCommunityManage, handle: (*Handler).companyFields},
		route{method: "POST", pattern: "/admin/payer-fields", action: ActCommunityManage, handle: (*Handler).saveCompanyFields},
		route{method: "GET", pattern: "/admin/communities/{id}/payer-fields", action: ActCommunityManage, handle: (*Handler).communityFields},
		route{method: "POST", pattern: "/admin/communities/{id}/payer-fields", action: ActCommunityManage, handle: (*Handler).saveCommunityFields},
		route{method: "GET", pattern: "/admin/codes/{token}/payer-fields", action: ActCommunityManage, handle: (*Handler).codeFields},
		route{method: "POST", pattern: "/admin/codes/{token}/payer-fields", action: ActCommunityManage, handle: (*Handler).saveCodeFields},

		// Payment interfaces.
		route{method: "GET", pattern: "/admin/interfaces", action: ActInterfaceManage, handle: (*Handler).interfaces},
		route{method: "GET", pattern: "/admin/interfaces/new", action: ActInterfaceManage, handle: (*Handler).newInterface},
		route{method: "POST", pattern: "/admin/interfaces", action: ActInterfaceManage, handle: (*Handler).createInterface},
		route{method: "GET", pattern: "/admin/interfaces/{iid}", action: ActInterfaceManage, handle: (*Handler).iface},
		route{method: "POST", pattern: "/admin/interfaces/{iid}", action: ActInterfaceManage, handle: (*Handler).updateInterface},
		route{method: "POST", pattern: "/admin/interfaces/{iid}/status", action: ActInterfaceManage, handle: (*Handler).setInterfaceStatus},
		route{method: "POST", pattern: "/admin/interfaces/{iid}/secret", action: ActInterfaceManage, handle: (*Handler).setInterfaceSecret},
		route{method: "POST", pattern: "/admin/interfaces/{iid}/company-alipay", action: ActInterfaceManage, handle: (*Handler).setCompanyAlipay},

		// Staff and the audit log.
		route{method: "GET", pattern: "/admin/staff", action: ActStaffManage, handle: (*Handler).staffPage},
		route{method: "POST", pattern: "/admin/staff", action: ActStaffManage, handle: (*Handler).createStaff},
		route{method: "POST", pattern: "/admin/staff/{sid}/disable", action: ActStaffManage, handle: (*Handler).disableStaff},
		route{method: "POST", pattern: "/admin/staff/{sid}/reset", action: ActStaffManage, handle: (*Handler).resetStaff},
		route{method: "POST", pattern: "/admin/staff/{sid}/enable", action: ActStaffManage, handle: (*Handler).enableStaff},
		route{method: "POST", pattern: "/admin/staff/{sid}/role", action: ActStaffManage, handle: (*Handler).changeRole},
		route{method: "GET", pattern: "/admin/audit", action: ActAuditView, handle: (*Handler).auditPage},

		// JSON API (README "Contracts").
		route{method: "POST", pattern: "/admin/api/session", public: true, handle: (*Handler).apiLogin},
		route{method: "DELETE", pattern: "/admin/api/session", action: actSignedIn, handle: (*Handler).apiLogout},
		route{method: "GET", pattern: "/admin/api/communities", action: ActCommunityView, handle: (*Handler).apiCommunities},

		// The business managers' app 星收付 (issue 11; mobile_pages*.go): pages under /m
		// with their own login (same accounts, cookies scoped to /m), 诊断 and 设置.
		route{method: "GET", pattern: "/m/login", public: true, handle: (*Handler).mobileLoginForm},
		route{method: "POST", pattern: "/m/login", public: true, handle: (*Handler).mobileLoginSubmit},
		route{method: "POST", pattern: "/m/login/sms", public: true, handle: (*Handler).mobileSMSSubmit},
		route{method: "POST", pattern: "/m/logout", action: actSignedIn, handle: (*Handler).mobileLogout},
		route{method: "GET", pattern: "/m", action: actSignedIn, handle: (*Handler).mobileHome},
		route{method: "GET", pattern: "/m/diagnose", action: actSignedIn, handle: (*Handler).mobileDiagnosePage},
		route{method: "GET", pattern: "/m/records", action: actSignedIn, handle: (*Handler).mobileRecords},
		route{method: "GET", pattern: "/m/settings", action: actSignedIn, handle: (*Handler).mobileSettings},
		route{method: "GET", pattern: "/m/api/diagnose", action: actSignedIn, handle: (*Handler).mobileDiagnose},
		route{method: "GET", pattern: "/m/api/settings", action: actSignedIn, handle: (*Handler).mobileGetSettings},
		route{method: "PUT", pattern: "/m/api/settings", action: actSignedIn, handle: (*Handler).mobilePutSettings},
	)

	// 分付 enablement (F1; fenfu_apply.go): company admins apply for their
	// WeChat Pay interfaces, the platform operator reviews.
	register(
		route{method: "GET", pattern: "/admin/fenfu", action: ActFenfuApply, handle: (*Handler).fenfuList},
		route{method: "GET", pattern: "/admin/fenfu/{iid}", action: ActFenfuApply, handle: (*Handler).fenfuPage},
		route{method: "POST", pattern: "/admin/fenfu/{iid}", action: ActFenfuApply, handle: (*Handler).fenfuSave},
		route{method: "GET", pattern: "/admin/fenfu-review", action: ActFenfuReview, handle: (*Handler).fenfuQueue},
		route{method: "GET", pattern: "/admin/fenfu-review/{iid}", action: ActFenfuReview, handle: (*Handler).fenfuReviewPage},
		route{method: "POST", pattern: "/admin/fenfu-review/{iid}/approve", action: ActFenfuReview, handle: (*Handler).fenfuApprove},
		route{method: "POST", pattern: "/admin/fenfu-review/{iid}/reject", action: ActFenfuReview, handle: (*Handler).fenfuReject},
	)

	// The managers' app's JSON API (mobile_api.go; README "Contracts: /m/api"):
	// a business manager's own codes and records only.
	register(
		route{method: "GET", pattern: "/m/api/code", action: ActOwnCodes, handle: (*Handler).apiMyCode},
		// The screen code (F7, dyncode.go): the code with this minute's token.
		route{method: "GET", pattern: "/m/screen", action: ActOwnCodes, handle: (*Handler).mobileScreen},
		route{method: "GET", pattern: "/m/api/screen", action: ActOwnCodes, handle: (*Handler).apiScreen},
		route{method: "POST", pattern: "/m/api/code/refresh", action: ActOwnCodes, handle: (*Handler).apiMyRefresh},
		route{method: "GET", pattern: "/m/api/codes", action: ActOwnCodes, handle: (*Handler).apiMyCodes},
		route{method: "GET", pattern: "/m/api/records", action: ActOwnRecords, handle: (*Handler).apiMyRecords},
		route{method: "GET", pattern: "/m/api/records/{id}", action: ActOwnRecords, handle: (*Handler).apiMyRecord},
		// 应收款 (mobile_api_receivables.go).
		route{method: "GET", pattern: "/m/api/receivables/houses", action: ActOwnReceivables, handle: (*Handler).apiMyReceivableHouses},
		route{method: "GET", pattern: "/m/api/receivables/houses/{hid}", action: ActOwnReceivables, handle: (*Handler).apiMyReceivableHouse},
		route{method: "POST", pattern: "/m/api/receivables", action: ActOwnReceivables, handle: (*Handler).apiMyReceivableCreate},
		route{method: "GET", pattern: "/m/api/receivables/{nid}", action: ActOwnReceivables, handle: (*Handler).apiMyReceivable},
	)
}

// match finds the route for method and path and its parameters; when two
// patterns match, the one with more literal segments wins
// ("/admin/interfaces/new" over "/admin/interfaces/{iid}"). With no route,
// allowed lists the methods the path has (405), or is "" (404).
func match(method, path string) (*route, map[string]string, string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var methods []string
	var best *route
	var bestParams map[string]string
	for i := range routes {
		rt := &routes[i]
		params, ok := matchPattern(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method != method {
			if !slices.Contains(methods, rt.method) {
				methods = append(methods, rt.method)
			}
			continue
		}
		if best == nil || len(params) < len(bestParams) {
			best, bestParams = rt, params
		}
	}
	if best != nil {
		return best, bestParams, ""
	}
	return nil, nil, strings.Join(methods, ", ")
}

// matchPattern matches the raw (escaped) path segments against a pattern: a
// literal segment matches itself, a {name} any non-empty segment (decoded;
// an encoded slash is refused).
func matchPattern(pattern string, segs []string) (map[string]string, bool) {
	ps := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	if len(ps) != len(segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range ps {
		v, err := url.PathUnescape(segs[i])
		if err != nil || v == "" || strings.Contains(v, "/") {
			return nil, false
		}
		if strings.HasPrefix(p, "{") {
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = v
			continue
		}
		if v != p {
			return nil, false
		}
	}
	return params, true
}
