package template_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/infra/template"
)

// Secret kinds the product keeps, each with the ARN a real secret of that kind
// has in the account the checks resolve against: Secrets Manager appends "-" and
// six random characters to the name, so an IAM resource naming a secret without
// that suffix (or a wildcard) matches nothing and every read is denied.
const (
	secretAccount = "123456789012"
	secretRegion  = "ap-southeast-1"
	secretPrefix  = "arn:aws:secretsmanager:" + secretRegion + ":" + secretAccount + ":secret:"
)

var productSecrets = map[string]string{
	"merchant":      secretPrefix + "estatepay/dev/merchant/demo-wechat-Xy9Z8w",
	"oauth":         secretPrefix + "estatepay/dev/oauth/wx8888888888888888-Qw3Er4",
	"payer":         secretPrefix + "estatepay/dev/payer-cookie-key-Zx8Cv7",
	"console-oauth": secretPrefix + "estatepay/dev/console/wechat-oauth-Mn5Bv4",
	"sms":           secretPrefix + "estatepay/dev/tencent-sms-Rt5Yu6",
	"remind-unsub":  secretPrefix + "estatepay/dev/remind-unsub-key-Ab1Cd2", // 催缴 退订 links
}

// foreignSecrets are secrets no function of this stage may read.
var foreignSecrets = []string{
	secretPrefix + "estatepay/prod/merchant/demo-wechat-Xy9Z8w",
	secretPrefix + "estatepay/prod/payer-cookie-key-Zx8Cv7",
	secretPrefix + "billing/dev/merchant/demo-wechat-Xy9Z8w",
	secretPrefix + "estatepay/dev/payer-cookie-key-old-Zx8Cv7",
	secretPrefix + "estatepay/prod/tencent-sms-Rt5Yu6",
	secretPrefix + "estatepay/dev/tencent-sms-old-Rt5Yu6",
	"arn:aws:secretsmanager:" + secretRegion + ":999999999999:secret:estatepay/dev/merchant/x-Xy9Z8w",
}

// secretReads says which secrets each function's code loads: merchant keys for
// the functions that talk to providers, only the WeChat OAuth app secret for the
// public landing page (bug 8: it must not hold merchant keys), the payer-cookie
// key for the two functions that sign and verify it (bug 9), and for the console
// (admin) the Tencent Cloud SMS API key (it sends the sign-in codes); the console
// also writes the merchant and OAuth secrets entered in it
// (TestConsoleOnlyWritesSecrets). A function not listed reads no secret.
var secretReads = map[string][]string{
	"LandingFunction":      {"oauth", "payer", "remind-unsub"},
	"OrdersFunction":       {"merchant", "payer"},
	"WechatNotifyFunction": {"merchant"},
	"AlipayNotifyFunction": {"merchant"},
	"SweeperFunction":      {"merchant"},
	"SettleFunction":       {"merchant"},
	"AdminFunction":        {"sms", "console-oauth"},
	"FanoutFunction":       {"console-oauth", "sms"}, // the official account's app secret (stable_token); SMS
	// RemindFunction: 催缴 SMS, signing its 退订 links, the official account's app secret (template messages).
	"RemindFunction": {"sms", "remind-unsub", "console-oauth"},
}

// iamPattern compiles an IAM resource pattern (* any run, ? one character).
func iamPattern(p string) *regexp.Regexp {
	q := regexp.QuoteMeta(p)
	q = strings.ReplaceAll(q, `\*`, `.*`)
	q = strings.ReplaceAll(q, `\?`, `.`)
	return regexp.MustCompile("^" + q + "$")
}

// secretResolver resolves policy resources as CloudFormation would for a dev
// stack with default parameters.
func secretResolver(tm *template.Template) template.Resolver {
	return template.Resolver{
		T:      tm,
		Params: map[string]string{"Stage": "dev"},
		Pseudo: map[string]string{"AWS::Partition": "aws", "AWS::Region": secretRegion, "AWS::AccountId": secretAccount},
	}
}

// secretProblems checks f's secretsmanager grants against the secrets it reads:
// every resource is a secret ARN pattern that can match a real secret ARN, every
// secret it reads is matched, and nothing else is.
func secretProblems(tm *template.Template, f template.Function, reads []string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	r := secretResolver(tm)
	sts, _ := statements(f)
	var patterns []string
	for _, st := range sts {
		secret := false
		for _, a := range list(st["Action"]) {
			// Reads: what a function may learn. The console's write-only
			// grants are held by TestConsoleOnlyWritesSecrets.
			if s, _ := a.(string); s == "secretsmanager:GetSecretValue" || strings.HasPrefix(s, "secretsmanager:") && s != "secretsmanager:CreateSecret" && s != "secretsmanager:PutSecretValue" {
				secret = true
			}
		}
		if !secret {
			continue
		}
		for _, res := range list(st["Resource"]) {
			p, err := r.String(res)
			if err != nil {
				bad("secret resource %v does not resolve: %v", res, err)
				continue
			}
			name, ok := strings.CutPrefix(p, secretPrefix)
			if !ok {
				bad("secret resource %q is not a secret ARN of this account and region", p)
				continue
			}
			if !strings.HasSuffix(name, "-??????") && !strings.HasSuffix(name, "*") {
				bad("secret resource %q cannot match a real secret ARN: Secrets Manager appends -XXXXXX to the name, so end it with -?????? (one secret) or * (a path)", p)
			}
			patterns = append(patterns, p)
		}
	}
	matches := func(arn string) bool {
		for _, p := range patterns {
			if iamPattern(p).MatchString(arn) {
				return true
			}
		}
		return false
	}
	readsKind := map[string]bool{}
	for _, k := range reads {
		readsKind[k] = true
		if !matches(productSecrets[k]) {
			bad("reads the %s secret but no policy resource matches its ARN %s", k, productSecrets[k])
		}
	}
	kinds := make([]string, 0, len(productSecrets))
	for k := range productSecrets {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if !readsKind[k] && matches(productSecrets[k]) {
			bad("may read the %s secret %s, which it does not need", k, productSecrets[k])
		}
	}
	for _, arn := range foreignSecrets {
		if matches(arn) {
			bad("may read %s, outside its scope", arn)
		}
	}
	return problems
}

func TestSecretScopes(t *testing.T) {
	tm := loadProduct(t)
	seen := map[string]bool{}
	for _, f := range tm.Functions() {
		seen[f.LogicalID] = true
		for _, p := range secretProblems(tm, f, secretReads[f.LogicalID]) {
			t.Errorf("%s: %s", f.LogicalID, p)
		}
	}
	for id := range secretReads {
		if !seen[id] {
			t.Errorf("secretReads names %s, which is not a function of the template", id)
		}
	}
}

// The console writes secrets and never reads one: its only Secrets Manager
// actions are CreateSecret and PutSecretValue. Its prefix (ConsoleSecretsBase)
// is a secret name prefix in the template and in every samconfig override.
func TestConsoleOnlyWritesSecrets(t *testing.T) {
	tm := loadProduct(t)
	var f template.Function
	for _, fn := range tm.Functions() {
		if fn.LogicalID == "AdminFunction" {
			f = fn
		}
	}
	if f.LogicalID == "" {
		t.Fatal("no AdminFunction")
	}
	sts, _ := statements(f)
	writes := 0
	for _, st := range sts {
		for _, a := range list(st["Action"]) {
			s, _ := a.(string)
			if !strings.HasPrefix(s, "secretsmanager:") {
				continue
			}
			switch s {
			case "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue":
				writes++
			case "secretsmanager:GetSecretValue":
				// Only the SMS API key (held by TestSecretScopes).
			default:
				t.Errorf("AdminFunction may %s; the console only writes secrets (and reads its SMS key)", s)
			}
		}
	}
	if writes != 2 {
		t.Errorf("AdminFunction has %d secret write grants, want CreateSecret and PutSecretValue", writes)
	}
	p, ok := tm.Parameters["ConsoleSecretsBase"]
	name := regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+[A-Za-z0-9_+=.@-]$`)
	if !ok || !name.MatchString(p.Default) {
		t.Errorf("ConsoleSecretsBase default %q is not a secret name prefix", p.Default)
	}
	b, err := os.ReadFile(filepath.Join(root(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`ConsoleSecretsBase=([^"\s]*)`).FindAllStringSubmatch(string(b), -1) {
		if !name.MatchString(m[1]) {
			t.Errorf("samconfig.toml: ConsoleSecretsBase=%q is not a secret name prefix", m[1])
		}
	}
}

// Secrets are named, never given by ARN (bug 6: an ARN parameter without
// Secrets Manager's random suffix made every read fail): no parameter of the
// template defaults to a secret ARN, and samconfig.toml overrides only
// parameters the template declares (none left from a retired secret), none
// with a secret ARN.
func TestNoSecretARNParameters(t *testing.T) {
	tm := loadProduct(t)
	for name, p := range tm.Parameters {
		if strings.Contains(p.Default, ":secretsmanager:") {
			t.Errorf("parameter %s defaults to a secret ARN %q; name the secret (…SecretName) instead", name, p.Default)
		}
	}
	b, err := os.ReadFile(filepath.Join(root(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	overrides := regexp.MustCompile(`"([A-Za-z0-9]+)=([^"]*)"`).FindAllStringSubmatch(string(b), -1)
	if len(overrides) == 0 {
		t.Fatal("samconfig.toml has no parameter overrides")
	}
	for _, m := range overrides {
		if _, ok := tm.Parameters[m[1]]; !ok {
			t.Errorf("samconfig.toml overrides %s, which the template does not declare", m[1])
		}
		if strings.Contains(m[2], ":secretsmanager:") {
			t.Errorf("samconfig.toml: %s=%q is a secret ARN; name the secret instead", m[1], m[2])
		}
	}
}

// The secret scope check catches a resource that cannot match a real secret ARN
// and a grant broader than what the function reads.
func TestSecretScopeCheckFlagsViolations(t *testing.T) {
	const tmpl = `
Parameters:
  Stage: { Type: String, Default: dev }
  PayerCookieKeySecretRef: { Type: String, Default: "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:estatepay/dev/payer-cookie-key" }
  PayerCookieKeySecretName: { Type: String, Default: estatepay/dev/payer-cookie-key }
Resources:
  PayerGood:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${PayerCookieKeySecretName}-??????" }
  PayerByRef:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Ref PayerCookieKeySecretRef }
  PayerNoSuffix:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:estatepay/${Stage}/payer-cookie-key" }
  PayerPrefix:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:estatepay/${Stage}/payer-cookie-key*" }
  LandingWithMerchantKeys:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:estatepay/${Stage}/merchant/*" }
  MerchantStageWide:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:estatepay/*" }
  OtherAccount:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:999999999999:secret:estatepay/${Stage}/merchant/*" }
  NoGrant:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [sqs:SendMessage], Resource: !Sub "arn:aws:sqs:x:y:z" }
`
	tm, err := template.Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reads []string
		want  []string // nil: no problems
	}{
		"PayerGood":               {[]string{"payer"}, nil},
		"PayerByRef":              {[]string{"payer"}, []string{"cannot match a real secret ARN", "no policy resource matches"}},
		"PayerNoSuffix":           {[]string{"payer"}, []string{"cannot match a real secret ARN", "no policy resource matches"}},
		"PayerPrefix":             {[]string{"payer"}, []string{"payer-cookie-key-old-Zx8Cv7, outside its scope"}},
		"LandingWithMerchantKeys": {[]string{"oauth"}, []string{"may read the merchant secret", "reads the oauth secret but no policy resource matches"}},
		"MerchantStageWide":       {[]string{"merchant"}, []string{"may read the payer secret", "may read the oauth secret", "estatepay/prod/merchant"}},
		"OtherAccount":            {[]string{"merchant"}, []string{"not a secret ARN of this account", "reads the merchant secret but no policy resource"}},
		"NoGrant":                 {nil, nil},
	}
	for _, f := range tm.Functions() {
		c, ok := cases[f.LogicalID]
		if !ok {
			t.Fatalf("no case for %s", f.LogicalID)
		}
		got := strings.Join(secretProblems(tm, f, c.reads), "\n")
		if c.want == nil && got != "" {
			t.Errorf("%s: unexpected problems:\n%s", f.LogicalID, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: problems do not mention %q:\n%s", f.LogicalID, w, got)
			}
		}
	}
}

// sesSenders are the functions that send e-mail (set-password links).
var sesSenders = map[string]bool{"AdminFunction": true, "FanoutFunction": true, "InvoiceFunction": true}

// sesIdentityArn is the identity the default parameters name, as IAM sees it.
const sesIdentityArn = "arn:aws:ses:" + secretRegion + ":" + secretAccount + ":identity/pay.example.com"

// sesProblems checks f's SES grants: a sender may call ses:SendEmail on the
// configured identity and nothing else of SES; any other function gets no SES
// permission at all.
func sesProblems(tm *template.Template, f template.Function, sends bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	r := secretResolver(tm)
	sts, _ := statements(f)
	granted := false
	for _, st := range sts {
		isSES := false
		for _, a := range list(st["Action"]) {
			s, _ := a.(string)
			if !strings.HasPrefix(s, "ses:") {
				continue
			}
			isSES = true
			if s != "ses:SendEmail" {
				bad("SES action %q; only ses:SendEmail is needed", s)
			}
		}
		if !isSES {
			continue
		}
		if !sends {
			bad("has SES permissions but sends no e-mail")
		}
		for _, res := range list(st["Resource"]) {
			p, err := r.String(res)
			if err != nil {
				bad("SES resource %v does not resolve: %v", res, err)
				continue
			}
			if p != sesIdentityArn {
				bad("SES resource %q is not the sending identity %s", p, sesIdentityArn)
				continue
			}
			granted = true
		}
	}
	if sends && !granted {
		bad("sends e-mail but may not ses:SendEmail on %s", sesIdentityArn)
	}
	return problems
}

func TestSESSendScopedToTheIdentity(t *testing.T) {
	tm := loadProduct(t)
	for _, f := range tm.Functions() {
		for _, p := range sesProblems(tm, f, sesSenders[f.LogicalID]) {
			t.Errorf("%s: %s", f.LogicalID, p)
		}
	}
	for _, name := range []string{"SesIdentity", "SesFromAddress"} {
		if _, ok := tm.Parameters[name]; !ok {
			t.Errorf("no %s parameter", name)
		}
	}
}

func TestSESScopeCheckFlagsViolations(t *testing.T) {
	const tmpl = `
Parameters:
  SesIdentity: { Type: String, Default: pay.example.com }
Resources:
  Good:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [ses:SendEmail], Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}" }
  AnyIdentity:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [ses:SendEmail], Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*" }
  RawToo:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [ses:SendEmail, ses:SendRawEmail], Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}" }
  NotASender:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [ses:SendEmail], Resource: !Sub "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesIdentity}" }
  SenderWithoutGrant:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - { Effect: Allow, Action: [sqs:SendMessage], Resource: "arn:aws:sqs:x:y:z" }
`
	tm, err := template.Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		sends bool
		want  []string // nil: no problems
	}{
		"Good":               {true, nil},
		"AnyIdentity":        {true, []string{"is not the sending identity", "may not ses:SendEmail"}},
		"RawToo":             {true, []string{`"ses:SendRawEmail"`}},
		"NotASender":         {false, []string{"sends no e-mail"}},
		"SenderWithoutGrant": {true, []string{"may not ses:SendEmail"}},
	}
	for _, f := range tm.Functions() {
		c, ok := cases[f.LogicalID]
		if !ok {
			t.Fatalf("no case for %s", f.LogicalID)
		}
		got := strings.Join(sesProblems(tm, f, c.sends), "\n")
		if c.want == nil && got != "" {
			t.Errorf("%s: unexpected problems:\n%s", f.LogicalID, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: problems do not mention %q:\n%s", f.LogicalID, w, got)
			}
		}
	}
}
