package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/pay/providers"
	"github.com/estatepay/estatepay/shared/secrets"
	"github.com/estatepay/estatepay/shared/store"
	"github.com/estatepay/estatepay/shared/web"
)

// Payment interfaces: WeChat Pay (direct merchant or service-provider
// partner mode) and Alipay (own app or ISV), their application status (the
// status C2 reads) and their secrets, entered once and written through the
// SecretWriter; the console keeps and shows only fingerprints.

type modeDef struct{ Value, Label string }

var modes = map[domain.Channel][]modeDef{
	domain.WeChat: {{"direct", "直连商户"}, {"partner", "服务商模式（子商户）"}},
	domain.Alipay: {{"app", "自研应用"}, {"isv", "第三方应用授权（服务商）"}},
}

var channelNames = map[domain.Channel]string{domain.WeChat: "微信支付", domain.Alipay: "支付宝"}

// ifaceField is one record field of the form.
type ifaceField struct {
	Name, Label, Hint string
	get               func(*store.Interface) *string
	need              []string // modes that require it
}

var ifaceFields = map[domain.Channel][]ifaceField{
	domain.WeChat: {
		{Name: "app_id", Label: "公众号 AppID", Hint: "直连", get: func(i *store.Interface) *string { return &i.AppID }, need: []string{"direct"}},
		{Name: "mch_id", Label: "商户号", Hint: "直连", get: func(i *store.Interface) *string { return &i.MchID }, need: []string{"direct"}},
		{Name: "sp_app_id", Label: "服务商 AppID", Hint: "服务商模式", get: func(i *store.Interface) *string { return &i.SpAppID }, need: []string{"partner"}},
		{Name: "sp_mch_id", Label: "服务商商户号", Hint: "服务商模式", get: func(i *store.Interface) *string { return &i.SpMchID }, need: []string{"partner"}},
		{Name: "sub_mch_id", Label: "子商户号", Hint: "服务商模式", get: func(i *store.Interface) *string { return &i.SubMchID }, need: []string{"partner"}},
		{Name: "sub_app_id", Label: "子商户 AppID", Hint: "服务商模式，可选", get: func(i *store.Interface) *string { return &i.SubAppID }},
		{Name: "merchant_serial_no", Label: "商户 API 证书序列号", get: func(i *store.Interface) *string { return &i.MerchantSerialNo }, need: []string{"direct", "partner"}},
		{Name: "platform_public_key_id", Label: "微信支付公钥 ID", get: func(i *store.Interface) *string { return &i.PlatformPublicKeyID }, need: []string{"direct", "partner"}},
	},
	domain.Alipay: {
		{Name: "app_id", Label: "应用 AppID", Hint: "第三方应用授权时为服务商的应用", get: func(i *store.Interface) *string { return &i.AppID }, need: []string{"app", "isv"}},
		{Name: "seller_id", Label: "商户 PID（2088 开头）", get: func(i *store.Interface) *string { return &i.SellerID }, need: []string{"app", "isv"}},
		{Name: "auth_app_id", Label: "商户授权应用 AppID", Hint: "第三方应用授权", get: func(i *store.Interface) *string { return &i.AuthAppID }, need: []string{"isv"}},
	},
}

type secretField struct {
	Name, Label, Hint string
	Multiline         bool
}

var secretFields = map[domain.Channel][]secretField{
	domain.WeChat: {
		{Name: "merchant_private_key", Label: "商户 API 私钥", Hint: "apiclient_key.pem 的内容", Multiline: true},
		{Name: "apiv3_key", Label: "APIv3 密钥", Hint: "32 位"},
		{Name: "platform_public_key", Label: "微信支付公钥", Hint: "pub_key.pem 的内容", Multiline: true},
		{Name: "oauth_app_secret", Label: "公众号 AppSecret", Hint: "获取付款人 openid 用，可单独更新"},
	},
	domain.Alipay: {
		{Name: "app_private_key", Label: "应用私钥", Multiline: true},
		{Name: "alipay_public_key", Label: "支付宝公钥", Multiline: true},
		{Name: "app_auth_token", Label: "app_auth_token", Hint: "第三方应用授权必填"},
	},
}

func statusClass(s domain.InterfaceStatus) string {
	switch s {
	case domain.StatusApproved:
		return "ok"
	case domain.StatusApplying, domain.StatusAuthPending:
		return "warn"
	case domain.StatusRejected:
		return "bad"
	}
	return ""
}

func modeName(i store.Interface) string {
	for _, m := range modes[i.Channel] {
		if m.Value == i.Mode {
			return m.Label
		}
	}
	return i.Mode
}

// ifaceLabel names an interface in lists: channel, mode, merchant.
func ifaceLabel(i store.Interface) string {
	l := channelNames[i.Channel] + " · " + modeName(i)
	if m := i.PaymentMerchant(); m != "" {
		l += " · " + m
	}
	return l + "（" + domain.InterfaceStatusLabel(i.Status) + "）"
}

type ifaceRow struct {
	ID, Kind, Merchant, Status, StatusClass string
	CompanyAlipay, HasSecret                bool
}

func (h *Handler) interfaces(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	is, err := h.Store.ListInterfaces(ctx, co.ID)
	if err != nil {
		return h.internal(ctx, c, "list interfaces", err)
	}
	sort.Slice(is, func(a, b int) bool {
		if is[a].Channel != is[b].Channel {
			return is[a].Channel > is[b].Channel // WeChat first
		}
		return is[a].ID < is[b].ID
	})
	rows := make([]ifaceRow, 0, len(is))
	for _, i := range is {
		rows = append(rows, ifaceRow{ID: i.ID, Kind: channelNames[i.Channel] + " · " + modeName(i), Merchant: i.PaymentMerchant(),
			Status: domain.InterfaceStatusLabel(i.Status), StatusClass: statusClass(i.Status), CompanyAlipay: i.ID == co.AlipayIfaceID, HasSecret: i.SecretRef != ""})
	}
	body := struct {
		Company   string
		Ifaces    []ifaceRow
		CanManage bool
		Amp       string
	}{Ifaces: rows, CanManage: true, Amp: c.scopeQuery("&")}
	if c.p.Role == RoleOperator {
		body.Company = co.Name
	}
	return h.render(http.StatusOK, "interfaces.html", h.page(c, "支付接口", body))
}

// ifaceBody is the interface page (new or existing).
type ifaceBody struct {
	New                     bool
	ID, Channel             string
	ChannelName             string
	IsAlipay, CompanyAlipay bool
	StatusText, StatusClass string
	Steps                   []struct {
		Label string
		On    bool
	}
	Next  []struct{ Value, Label string }
	Modes []struct {
		Value, Label string
		Selected     bool
	}
	Fields       []struct{ Name, Label, Hint, Value string }
	Fingerprints []struct{ Label, Value string }
	SecretFields []secretField
}

func (h *Handler) ifaceView(c *call, i store.Interface, isNew, companyAlipay bool) view {
	b := ifaceBody{New: isNew, ID: i.ID, Channel: string(i.Channel), ChannelName: channelNames[i.Channel], IsAlipay: i.Channel == domain.Alipay,
		CompanyAlipay: companyAlipay, StatusText: domain.InterfaceStatusLabel(i.Status), StatusClass: statusClass(i.Status), SecretFields: secretFields[i.Channel]}
	reached := true
	for _, s := range domain.InterfaceSteps(i.Channel) {
		b.Steps = append(b.Steps, struct {
			Label string
			On    bool
		}{domain.InterfaceStatusLabel(s), reached && !isNew})
		if s == i.Status {
			reached = false
		}
	}
	if i.Status == domain.StatusRejected || i.Status == domain.StatusDisabled {
		for k := range b.Steps {
			b.Steps[k].On = false
		}
	}
	for _, s := range domain.NextInterfaceStatuses(i.Channel, i.Status) {
		b.Next = append(b.Next, struct{ Value, Label string }{string(s), domain.InterfaceStatusLabel(s)})
	}
	for _, m := range modes[i.Channel] {
		b.Modes = append(b.Modes, struct {
			Value, Label string
			Selected     bool
		}{m.Value, m.Label, m.Value == i.Mode})
	}
	for _, f := range ifaceFields[i.Channel] {
		b.Fields = append(b.Fields, struct{ Name, Label, Hint, Value string }{f.Name, f.Label, f.Hint, *f.get(&i)})
	}
	b.Fingerprints = append(b.Fingerprints, struct{ Label, Value string }{"商户密钥指纹", i.SecretFingerprint})
	if i.Channel == domain.WeChat {
		b.Fingerprints = append(b.Fingerprints, struct{ Label, Value string }{"AppSecret 指纹", i.OAuthSecretFingerprint})
	}
	title := b.ChannelName + "接口"
	if isNew {
		title = "添加" + title
	}
	return h.page(c, title, b)
}

func parseChannel(s string) (domain.Channel, bool) {
	ch := domain.Channel(s)
	return ch, ch == domain.WeChat || ch == domain.Alipay
}

func (h *Handler) newInterface(ctx context.Context, c *call) web.Response {
	if _, resp, ok := h.scope(ctx, c); !ok {
		return resp
	}
	ch, ok := parseChannel(c.req.QueryStringParameters["channel"])
	if !ok {
		return h.notFound(c)
	}
	return h.render(http.StatusOK, "iface.html", h.ifaceView(c, store.Interface{Channel: ch, Mode: modes[ch][0].Value, Status: domain.StatusApplying}, true, false))
}

// readIfaceForm applies the form's mode and fields to i.
func readIfaceForm(c *call, i *store.Interface) string {
	mode := c.form.Get("mode")
	valid := false
	for _, m := range modes[i.Channel] {
		valid = valid || m.Value == mode
	}
	if !valid {
		return "请选择接入方式"
	}
	i.Mode = mode
	for _, f := range ifaceFields[i.Channel] {
		v := strings.TrimSpace(c.form.Get(f.Name))
		if v != "" && !domain.IsURLSafe(v, 1, 64) {
			return f.Label + "只能包含字母、数字、下划线和连字符（最多 64 位）"
		}
		*f.get(i) = v
	}
	return ""
}

func (h *Handler) createInterface(ctx context.Context, c *call) web.Response {
	co, resp, ok := h.scope(ctx, c)
	if !ok {
		return resp
	}
	ch, ok := parseChannel(c.form.Get("channel"))
	if !ok {
		return h.formError(c, "请选择支付渠道", "/admin/interfaces")
	}
	i := store.Interface{ID: newID("if-"), CompanyID: co.ID, Channel: ch, Status: domain.StatusApplying}
	if msg := readIfaceForm(c, &i); msg != "" {
		return h.formError(c, msg, "/admin/interfaces/new?channel="+string(ch))
	}
	if err := h.Store.CreateInterface(ctx, i); err != nil {
		return h.internal(ctx, c, "create interface", err)
	}
	h.audit(ctx, c, "interface.create", "interface", i.ID, nil, i)
	// The company's first Alipay interface becomes its Alipay interface (C2).
	if ch == domain.Alipay && co.AlipayIfaceID == "" {
		before, after, err := h.Store.UpdateCompany(ctx, co.ID, func(x *store.Company) error {
			if x.AlipayIfaceID == "" {
				x.AlipayIfaceID = i.ID
			}
			return nil
		})
		if err != nil {
			return h.internal(ctx, c, "set company alipay", err)
		}
		h.audit(ctx, c, "company.alipay_interface", "company", co.ID, before, after)
	}
	return c.done("/admin/interfaces/"+i.ID, "created")
}

// loadInterface reads an interface of the caller's company (404 otherwise).
func (h *Handler) loadInterface(ctx context.Context, c *call, id string) (store.Interface, web.Response, bool) {
	i, err := h.Store.GetInterface(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !owns(c.p, i.CompanyID)) {
		return i, h.notFound(c), false
	}
	if err != nil {
		return i, h.internal(ctx, c, "get interface", err), false
	}
	if c.p.Role == RoleOperator {
		c.req.QueryStringParameters = withParam(c.req.QueryStringParameters, "company", i.CompanyID)
	}
	return i, web.Response{}, true
}

func (h *Handler) iface(ctx context.Context, c *call) web.Response {
	i, resp, ok := h.loadInterface(ctx, c, c.params["iid"])
	if !ok {
		return resp
	}
	co, err := h.Store.GetCompany(ctx, i.CompanyID)
	if err != nil {
		return h.internal(ctx, c, "get company", err)
	}
	return h.render(http.StatusOK, "iface.html", h.ifaceView(c, i, false, co.AlipayIfaceID == i.ID))
}

func (h *Handler) updateInterface(ctx context.Context, c *call) web.Response {
	i, resp, ok := h.loadInterface(ctx, c, c.params["iid"])
	if !ok {
		return resp
	}
	back := "/admin/interfaces/" + i.ID
	var msg string
	before, after, err := h.Store.UpdateInterface(ctx, i.ID, func(x *store.Interface) error {
		if msg = readIfaceForm(c, x); msg != "" {
			return errInvalid
		}
		if x.Status == domain.StatusApproved || x.Status == domain.StatusAuthPending {
			if msg = missingForUse(*x); msg != "" {
				return errInvalid
			}
		}
		return nil
	})
	if errors.Is(err, errInvalid) {
		return h.formError(c, msg, back)
	}
	if err != nil {
		return h.internal(ctx, c, "update interface", err)
	}
	h.audit(ctx, c, "interface.update", "interface", i.ID, before, after)
	return c.done(back, "saved")
}

var errInvalid = errors.New("invalid input")

// missingForUse says what an interface lacks before payments can use it
// ("" when nothing): the fields its mode needs and its secrets.
func missingForUse(i store.Interface) string {
	for _, f := range ifaceFields[i.Channel] {
		for _, m := range f.need {
			if m == i.Mode && *f.get(&i) == "" {
				return "请先填写" + f.Label
			}
		}
	}
	if i.SecretRef == "" {
		return "请先录入密钥"
	}
	if i.Channel == domain.WeChat && i.OAuthSecretRef == "" {
		return "请先录入公众号 AppSecret"
	}
	return ""
}

func (h *Handler) setInterfaceStatus(ctx context.Context, c *call) web.Response {
	i, resp, ok := h.loadInterface(ctx, c, c.params["iid"])
	if !ok {
		return resp
	}
	back := "/admin/interfaces/" + i.ID
	to := domain.InterfaceStatus(c.form.Get("status"))
	var msg string
	before, after, err := h.Store.UpdateInterface(ctx, i.ID, func(x *store.Interface) error {
		if !domain.CanMoveInterface(x.Channel, x.Status, to) {
			msg = "不能从「" + domain.InterfaceStatusLabel(x.Status) + "」改为「" + domain.InterfaceStatusLabel(to) + "」"
			return errInvalid
		}
		if to == domain.StatusApproved || to == domain.StatusAuthPending {
			if msg = missingForUse(*x); msg != "" {
				return errInvalid
			}
		}
		x.Status = to
		return nil
	})
	if errors.Is(err, errInvalid) {
		return h.formError(c, msg, back)
	}
	if err != nil {
		return h.internal(ctx, c, "set interface status", err)
	}
	h.audit(ctx, c, "interface.status", "interface", i.ID, map[string]any{"status": before.Status}, map[string]any{"status": after.Status})
	return c.done(back, "status")
}

func (h *Handler) setCompanyAlipay(ctx context.Context, c *call) web.Response {
	i, resp, ok := h.loadInterface(ctx, c, c.params["iid"])
	if !ok {
		return resp
	}
	if i.Channel != domain.Alipay {
		return h.formError(c, "只有支付宝接口可以设为公司支付宝接口", "/admin/interfaces/"+i.ID)
	}
	before, after, err := h.Store.UpdateCompany(ctx, i.CompanyID, func(co *store.Company) error { co.AlipayIfaceID = i.ID; return nil })
	if err != nil {
		return h.internal(ctx, c, "set company alipay", err)
	}
	h.audit(ctx, c, "company.alipay_interface", "company", i.CompanyID, before, after)
	return c.done("/admin/interfaces/"+i.ID, "saved")
}

// setInterfaceSecret writes the secrets entered (never logged, never
// stored in the table, never shown again) and keeps their fingerprints.
func (h *Handler) setInterfaceSecret(ctx context.Context, c *call) web.Response {
	i, resp, ok := h.loadInterface(ctx, c, c.params["iid"])
	if !ok {
		return resp
	}
	back := "/admin/interfaces/" + i.ID
	merchant, oauth, msg := readSecrets(c, i)
	if msg != "" {
		return h.formError(c, msg, back)
	}
	var ref, oauthRef string
	var err error
	if merchant != nil {
		if ref, err = h.Secrets.Put(ctx, "merchant", i.ID, merchant); err != nil {
			return h.internal(ctx, c, "write merchant secret", err)
		}
	}
	if oauth != nil {
		if oauthRef, err = h.Secrets.Put(ctx, "oauth", i.ID, oauth); err != nil {
			return h.internal(ctx, c, "write oauth secret", err)
		}
	}
	before, after, err := h.Store.UpdateInterface(ctx, i.ID, func(x *store.Interface) error {
		if merchant != nil {
			x.SecretRef, x.SecretFingerprint = ref, secrets.Fingerprint(merchant)
		}
		if oauth != nil {
			x.OAuthSecretRef, x.OAuthSecretFingerprint = oauthRef, secrets.Fingerprint(oauth)
		}
		return nil
	})
	if err != nil {
		return h.internal(ctx, c, "update interface secret", err)
	}
	fp := func(x store.Interface) map[string]string {
		return map[string]string{"secret": x.SecretFingerprint, "oauth_secret": x.OAuthSecretFingerprint}
	}
	h.audit(ctx, c, "interface.secret", "interface", i.ID, fp(before), fp(after))
	return c.done(back, "secret")
}

// readSecrets builds the secret JSON values from the form: nil when that
// secret was left empty; all of a secret's parts or none.
func readSecrets(c *call, i store.Interface) (merchant, oauth []byte, msg string) {
	v := func(name string) string { return strings.TrimSpace(c.form.Get(name)) }
	switch i.Channel {
	case domain.WeChat:
		priv, key, pub := v("merchant_private_key"), v("apiv3_key"), v("platform_public_key")
		if priv != "" || key != "" || pub != "" {
			s := providers.WeChatSecret{APIv3Key: key}
			var ok bool
			if s.MerchantPrivateKey, ok = normalizeKey(priv, true); !ok {
				return nil, nil, "商户 API 私钥无法识别（需要 RSA 私钥 PEM）"
			}
			if len(key) != 32 {
				return nil, nil, "APIv3 密钥须为 32 位"
			}
			if s.PlatformPublicKey, ok = normalizeKey(pub, false); !ok {
				return nil, nil, "微信支付公钥无法识别（需要 RSA 公钥 PEM）"
			}
			merchant, _ = json.Marshal(s)
		}
		if sec := v("oauth_app_secret"); sec != "" {
			if !domain.IsURLSafe(sec, 16, 64) {
				return nil, nil, "公众号 AppSecret 格式不正确"
			}
			oauth, _ = json.Marshal(providers.OAuthSecret{OAuthAppSecret: sec})
		}
	case domain.Alipay:
		priv, pub, tok := v("app_private_key"), v("alipay_public_key"), v("app_auth_token")
		if priv == "" && pub == "" && tok == "" {
			break
		}
		s := providers.AlipaySecret{AppAuthToken: tok}
		var ok bool
		if s.AppPrivateKey, ok = normalizeKey(priv, true); !ok {
			return nil, nil, "应用私钥无法识别（RSA 私钥，PEM 或支付宝工具生成的 Base64）"
		}
		if s.AlipayPublicKey, ok = normalizeKey(pub, false); !ok {
			return nil, nil, "支付宝公钥无法识别（RSA 公钥，PEM 或 Base64）"
		}
		switch {
		case i.Mode == "isv" && tok == "":
			return nil, nil, "第三方应用授权须填写 app_auth_token"
		case i.Mode != "isv" && tok != "":
			return nil, nil, "自研应用不需要 app_auth_token"
		case tok != "" && !domain.IsURLSafe(strings.ReplaceAll(tok, ".", ""), 8, 128):
			return nil, nil, "app_auth_token 格式不正确"
		}
		merchant, _ = json.Marshal(s)
	}
	if merchant == nil && oauth == nil {
		return nil, nil, "没有填写任何密钥"
	}
	return merchant, oauth, ""
}

// normalizeKey accepts an RSA key as PEM or as bare Base64 DER (what
// Alipay's key tool prints) and returns it as PEM.
func normalizeKey(s string, private bool) (string, bool) {
	var der []byte
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		der = blk.Bytes
	} else {
		d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return "", false
		}
		der = d
	}
	if private {
		if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
			if _, ok := k.(interface{ Size() int }); ok {
				return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), true
			}
		}
		if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
			return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})), true
		}
		return "", false
	}
	if _, err := x509.ParsePKIXPublicKey(der); err == nil {
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), true
	}
	if _, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: der})), true
	}
	return "", false
}
