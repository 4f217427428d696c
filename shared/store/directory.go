package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/estatepay/estatepay/shared/domain"
	"github.com/estatepay/estatepay/shared/domain/managercode"
)

// Company is a property company.
type Company struct {
	ID            string `dynamodbav:"id"`
	Name          string `dynamodbav:"name"`
	AlipayIfaceID string `dynamodbav:"alipay_iface_id,omitempty"` // the company's Alipay interface (C2)
	// PayerFields the company's payers fill in (M5), unless a community or code sets its own.
	PayerFields domain.PayerFields `dynamodbav:"payer_fields,omitempty"`
}

// Community is a 小区.
type Community struct {
	ID            string `dynamodbav:"id"`
	CompanyID     string `dynamodbav:"company_id"`
	Name          string `dynamodbav:"name"`
	WeChatIfaceID string `dynamodbav:"wechat_iface_id,omitempty"` // 微信支付设置 association (C2)
	MaxAmountFen  int64  `dynamodbav:"max_amount_fen,omitempty"`  // 0: the deployment default (C4)
	// PayerFields the community's payers fill in (M5); replaces the company's.
	PayerFields domain.PayerFields `dynamodbav:"payer_fields,omitempty"`
}

// Interface is a company's payment interface at one provider. Keys are not here:
// SecretRef points at them (Secrets Manager ARN, or a file under .local/).
// OAuthSecretRef points at what identifies payers — WeChat: the official
// account's OAuth app secret; Alipay (optional): the app's keys for auth_base
// (我的缴费记录) —
// kept apart from the merchant keys so that the public landing function, which
// needs only the OAuth secret, can read nothing else (Secrets Manager names
// estatepay/<stage>/oauth/… versus estatepay/<stage>/merchant/…).
type Interface struct {
	ID        string                 `dynamodbav:"id"`
	CompanyID string                 `dynamodbav:"company_id"`
	Channel   domain.Channel         `dynamodbav:"channel"`
	Status    domain.InterfaceStatus `dynamodbav:"status"`
	// WeChat Pay: Mode "direct" (AppID, MchID) or "partner" (SpAppID, SpMchID, SubMchID, SubAppID).
	// Alipay: Mode "app" (AppID) or "isv" (AppID of the ISV plus an app_auth_token in
	// the secret, and AuthAppID, the app of the merchant that authorised the ISV).
	// SellerID (the merchant's 2088… pid) is required for Alipay.
	Mode                string `dynamodbav:"mode"`
	AppID               string `dynamodbav:"app_id,omitempty"`
	MchID               string `dynamodbav:"mch_id,omitempty"`
	SpAppID             string `dynamodbav:"sp_app_id,omitempty"`
	SpMchID             string `dynamodbav:"sp_mch_id,omitempty"`
	SubMchID            string `dynamodbav:"sub_mch_id,omitempty"`
	SubAppID            string `dynamodbav:"sub_app_id,omitempty"`
	MerchantSerialNo    string `dynamodbav:"merchant_serial_no,omitempty"`
	PlatformPublicKeyID string `dynamodbav:"platform_public_key_id,omitempty"`
	SellerID            string `dynamodbav:"seller_id,omitempty"`
	AuthAppID           string `dynamodbav:"auth_app_id,omitempty"` // Alipay ISV: the merchant's app id (auth_app_id)
	SecretRef           string `dynamodbav:"secret_ref"`
	OAuthSecretRef      string `dynamodbav:"oauth_secret_ref,omitempty"` // WeChat: {"oauth_app_secret":"…"}; Alipay: {"app_private_key":"…","alipay_public_key":"…"} (auth_base)
	// Fingerprints (secrets.Fingerprint) of the secrets as entered in the
	// console: what it shows instead of the secrets, which it never reads back.
	SecretFingerprint      string `dynamodbav:"secret_fingerprint,omitempty"`
	OAuthSecretFingerprint string `dynamodbav:"oauth_secret_fingerprint,omitempty"`
	// Fenfu is the interface's 分付 enablement (F1): FenfuEnabled once a
	// reviewer approved the merchant's application ("" never applied).
	Fenfu string `dynamodbav:"fenfu,omitempty"`
}

// FenfuEnabled is Interface.Fenfu of a merchant whose 分付 application was approved.
const FenfuEnabled = "enabled"

// OffersFenfu reports whether this interface's pages may offer 分付 (F1: only
// an enabled WeChat Pay merchant; F5 decides per payer and amount).
func (i Interface) OffersFenfu() bool { return i.Channel == domain.WeChat && i.Fenfu == FenfuEnabled }

// PaymentMerchant is the merchant id a verified payment must name (C1).
func (i Interface) PaymentMerchant() string {
	if i.Channel == domain.WeChat {
		if i.Mode == "partner" {
			return i.SubMchID
		}
		return i.MchID
	}
	return i.SellerID
}

// PaymentApp is the app id a verified payment must name: WeChat partner mode the
// service provider's sp_appid; Alipay ISV mode the authorising merchant's app
// (auth_app_id), not the ISV's own.
func (i Interface) PaymentApp() string {
	switch {
	case i.Channel == domain.WeChat && i.Mode == "partner":
		return i.SpAppID
	case i.Channel == domain.Alipay && i.Mode == "isv":
		return i.AuthAppID
	}
	return i.AppID
}

// OAuthAppID is the app a payer identity is issued under: WeChat, the app
// whose openid the payer needs (sub_appid in partner mode when set, else the
// sp/direct appid); Alipay, the app itself (app_id, the ISV's own in ISV
// mode), whose auth_base step 我的缴费记录 runs.
func (i Interface) OAuthAppID() string {
	switch {
	case i.Mode == "partner" && i.SubAppID != "":
		return i.SubAppID
	case i.Mode == "partner":
		return i.SpAppID
	}
	return i.AppID
}

// Code is a collection code (C1). Token is unguessable (>= 128 bits).
type Code struct {
	Token       string `dynamodbav:"token"`
	CommunityID string `dynamodbav:"community_id"`
	Kind        string `dynamodbav:"kind"`   // "community", or "manager" (managercode.Kind)
	Status      string `dynamodbav:"status"` // "active" | "revoked"
	// PayerFields the code's payers fill in (M5); replaces the community's and company's.
	PayerFields domain.PayerFields `dynamodbav:"payer_fields,omitempty"`

	// A business manager's code (M3, M4; shared/store/managercodes.go):
	// whose it is (staff id, company), which of their codes this token is
	// (managercode.Code ID and name), the payer-field values it presets, and
	// — once a refresh replaced the token — until when it still pays.
	OwnerID    string            `dynamodbav:"owner_id,omitempty"`
	OwnerName  string            `dynamodbav:"owner_name,omitempty"`
	CompanyID  string            `dynamodbav:"company_id,omitempty"`
	CodeID     string            `dynamodbav:"code_id,omitempty"`
	Name       string            `dynamodbav:"name,omitempty"`
	Preset     map[string]string `dynamodbav:"preset,omitempty"`
	ValidUntil string            `dynamodbav:"valid_until,omitempty"` // RFC 3339 UTC; "" pays with no end
	// DynamicOnly: the code pays only through its screen form, whose URL
	// carries the minute token (F7, shared/dyncode); a scan of the printed
	// code (no token) is refused. Off by default: every code can also be
	// shown dynamically, and the printed code keeps working.
	DynamicOnly bool `dynamodbav:"dynamic_only,omitempty"`
}

// Until is when a replaced token stops paying (zero: no end).
func (c Code) Until() time.Time { return parseTS(c.ValidUntil) }

// Usable reports whether the code pays at now: active and, for a token a
// refresh replaced, before its end (managercode.Usable).
func (c Code) Usable(now time.Time) bool {
	return c.Status == "active" && managercode.Usable(c.Until(), now)
}

type dirItem[T any] struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Data T      `dynamodbav:"data"`
	// Parent and Child key the "parent" index: a company's communities and
	// interfaces, a community's codes, the list of companies (see parentKeys).
	Parent string `dynamodbav:"parent,omitempty"`
	Child  string `dynamodbav:"child,omitempty"`
	// Version is the optimistic lock of console updates (0: never updated).
	Version int64 `dynamodbav:"version,omitempty"`
}

func dirKey(kind, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(kind + "#" + id), "sk": str("META")}
}

func getDir[T any](ctx context.Context, s *Store, kind, id string) (T, error) {
	var it dirItem[T]
	if id == "" {
		return it.Data, ErrNotFound
	}
	err := s.get(ctx, s.Directory, dirKey(kind, id), &it)
	return it.Data, err
}

func putDir[T any](ctx context.Context, s *Store, kind, id string, v T) error {
	parent, child := parentKeys(kind, id, v)
	item, err := attributevalue.MarshalMap(dirItem[T]{PK: kind + "#" + id, SK: "META", Data: v, Parent: parent, Child: child})
	if err != nil {
		return err
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Directory), Item: item})
	if err != nil {
		return fmt.Errorf("store: put %s %s: %w", kind, id, err)
	}
	return nil
}

func (s *Store) GetCompany(ctx context.Context, id string) (Company, error) {
	return getDir[Company](ctx, s, "COMPANY", id)
}
func (s *Store) GetCommunity(ctx context.Context, id string) (Community, error) {
	return getDir[Community](ctx, s, "COMMUNITY", id)
}
func (s *Store) GetInterface(ctx context.Context, id string) (Interface, error) {
	return getDir[Interface](ctx, s, "IFACE", id)
}
func (s *Store) GetCode(ctx context.Context, token string) (Code, error) {
	return getDir[Code](ctx, s, "CODE", token)
}
func (s *Store) PutCompany(ctx context.Context, c Company) error {
	return putDir(ctx, s, "COMPANY", c.ID, c)
}
func (s *Store) PutCommunity(ctx context.Context, c Community) error {
	return putDir(ctx, s, "COMMUNITY", c.ID, c)
}
func (s *Store) PutInterface(ctx context.Context, i Interface) error {
	return putDir(ctx, s, "IFACE", i.ID, i)
}
func (s *Store) PutCode(ctx context.Context, c Code) error {
	return putDir(ctx, s, "CODE", c.Token, c)
}

// Collection is everything the landing page and order creation need to know
// about a scanned code.
type Collection struct {
	Code      Code
	Community Community
	Company   Company
	Alipay    *Interface // the company's Alipay interface, if any
	WeChat    *Interface // the community's WeChat interface, if any
}

// Availability applies C2 to the collection.
func (c Collection) Availability() domain.Availability {
	in := domain.ChannelInputs{}
	if c.Alipay != nil && c.Alipay.Channel == domain.Alipay {
		in.AlipayStatus = c.Alipay.Status
	}
	if c.WeChat != nil && c.WeChat.Channel == domain.WeChat {
		in.WeChatStatus = c.WeChat.Status
		in.WeChatAssociated = true
	}
	return domain.ChannelAvailability(in)
}

// PayerFields are the fields a payer of this code fills in: the most specific
// level that defines any wins (code, then community, then company).
func (c Collection) PayerFields() domain.PayerFields {
	return domain.ResolvePayerFields(c.Company.PayerFields, c.Community.PayerFields, c.Code.PayerFields)
}

// Interface returns the interface for ch (nil if none).
func (c Collection) Interface(ch domain.Channel) *Interface {
	switch ch {
	case domain.WeChat:
		return c.WeChat
	case domain.Alipay:
		return c.Alipay
	}
	return nil
}

// LoadCollection resolves an active code token to its community, company and
// interfaces. Unknown or revoked tokens are ErrNotFound.
func (s *Store) LoadCollection(ctx context.Context, token string) (Collection, error) {
	var c Collection
	code, err := s.GetCode(ctx, token)
	if err != nil {
		return c, err
	}
	if code.Status != "active" {
		return c, ErrNotFound
	}
	c, err = s.LoadCommunity(ctx, code.CommunityID)
	c.Code = code
	if err == nil && code.OwnerID != "" && code.CompanyID != c.Company.ID {
		return Collection{}, ErrNotFound // a manager's code pays only into their own company's community
	}
	return c, err
}

// LoadCommunity resolves a community to its company and interfaces (a
// Collection without a code: what a payment notice of the community pays
// through). An unknown community is ErrNotFound.
func (s *Store) LoadCommunity(ctx context.Context, communityID string) (Collection, error) {
	var c Collection
	var err error
	if c.Community, err = s.GetCommunity(ctx, communityID); err != nil {
		return c, fmt.Errorf("store: community: %w", err)
	}
	// The company and the community's WeChat interface in one round trip.
	var wechat *Interface
	if c.Company, wechat, err = s.companyAndInterface(ctx, c.Community.CompanyID, c.Community.WeChatIfaceID); err != nil {
		return c, fmt.Errorf("store: company of community: %w", err)
	}
	if wechat != nil && wechat.CompanyID == c.Company.ID {
		c.WeChat = wechat
	}
	if c.Company.AlipayIfaceID != "" {
		i, err := s.GetInterface(ctx, c.Company.AlipayIfaceID)
		if err == nil && i.CompanyID == c.Company.ID {
			c.Alipay = &i
		} else if err != nil && err != ErrNotFound {
			return c, err
		}
	}
	return c, nil
}

// companyAndInterface reads a company and (if ifaceID is set) an interface with
// one BatchGetItem. A missing company is ErrNotFound; a missing interface is nil.
func (s *Store) companyAndInterface(ctx context.Context, companyID, ifaceID string) (Company, *Interface, error) {
	if companyID == "" {
		return Company{}, nil, ErrNotFound
	}
	keys := []map[string]types.AttributeValue{dirKey("COMPANY", companyID)}
	if ifaceID != "" {
		keys = append(keys, dirKey("IFACE", ifaceID))
	}
	req := map[string]types.KeysAndAttributes{s.Directory: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt == 5 {
			return Company{}, nil, fmt.Errorf("store: batch get: keys still unprocessed after %d attempts", attempt)
		}
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return Company{}, nil, err
		}
		items = append(items, out.Responses[s.Directory]...)
		req = out.UnprocessedKeys
	}
	var company *Company
	var iface *Interface
	for _, it := range items {
		pk, _ := it["pk"].(*types.AttributeValueMemberS)
		if pk == nil {
			continue
		}
		switch pk.Value {
		case "COMPANY#" + companyID:
			var d dirItem[Company]
			if err := attributevalue.UnmarshalMap(it, &d); err != nil {
				return Company{}, nil, err
			}
			company = &d.Data
		case "IFACE#" + ifaceID:
			var d dirItem[Interface]
			if err := attributevalue.UnmarshalMap(it, &d); err != nil {
				return Company{}, nil, err
			}
			iface = &d.Data
		}
	}
	if company == nil {
		return Company{}, nil, ErrNotFound
	}
	return *company, iface, nil
}

// CommunityCode returns a community's code to print: its active code (C1:
// one per community; the first by token should there be several), from the
// community's codes; ErrNotFound when none is active.
func (s *Store) CommunityCode(ctx context.Context, communityID string) (Code, error) {
	codes, err := s.ListCodes(ctx, communityID)
	if err != nil {
		return Code{}, err
	}
	if code, ok := ActiveCode(codes); ok {
		return code, nil
	}
	return Code{}, ErrNotFound
}

// ActiveCode picks the code to print among a community's codes: the active
// one (the first by token when several are).
func ActiveCode(codes []Code) (Code, bool) {
	var best Code
	for _, c := range codes {
		if c.Status == "active" && (best.Token == "" || c.Token < best.Token) {
			best = c
		}
	}
	return best, best.Token != ""
}
