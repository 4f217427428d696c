// Package stack is the local stack behind `make run`: it reads template.yaml and
// runs exactly what it declares — each function's real bootstrap behind a Lambda
// Runtime API emulator, the HttpApi routes (payload 2.0), the DynamoDB tables
// (embedded minidyn), the SQS queues and event source mappings, the schedules —
// plus the WeChat Pay and Alipay sandboxes and the outbox (the SES and Tencent
// Cloud SMS sandbox), and seeds demo data.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/estatepay/estatepay/infra/build"
	"github.com/estatepay/estatepay/infra/local/dynamo"
	"github.com/estatepay/estatepay/infra/local/gateway"
	"github.com/estatepay/estatepay/infra/local/lambdaemu"
	"github.com/estatepay/estatepay/infra/local/schedule"
	"github.com/estatepay/estatepay/infra/local/sqsemu"
	"github.com/estatepay/estatepay/infra/local/streammap"
	alipaysb "github.com/estatepay/estatepay/infra/sandbox/alipay"
	einvoicesb "github.com/estatepay/estatepay/infra/sandbox/einvoice"
	"github.com/estatepay/estatepay/infra/sandbox/outbox"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/infra/template"
	"github.com/estatepay/estatepay/shared/store"
)

// Region and account the local stack pretends to be in.
const (
	Region    = "ap-southeast-1"
	AccountID = "000000000000"
)

// Options configure a stack. Zero values are the `make run` defaults.
type Options struct {
	Root     string // repository root (holds template.yaml); default "."
	StateDir string // default <Root>/.local
	Host     string // default 127.0.0.1
	// Port is the API gateway port; the other services listen on the next ones
	// (PORT+1 WeChat WebView, +2 WeChat sandbox, +3 Alipay sandbox, +4 DynamoDB,
	// +5 SQS, +6 outbox, +7 e-invoice platform, +9 control). 0 means every service on an ephemeral port (tests).
	Port int
	// BinDir holds prebuilt bootstraps (<BinDir>/<LogicalID>/bootstrap); empty
	// means build them now into <StateDir>/build.
	BinDir string
	// Log receives the stack's own lines and the functions' output; default os.Stdout.
	Log io.Writer
	// NotifyRetry compresses the sandboxes' callback retry schedules (tests);
	// nil keeps the providers' real schedules.
	NotifyRetry []time.Duration
	// NoSchedules disables firing schedules on their cron (tests fire on demand).
	NoSchedules bool
	// SnapshotEvery persists tables and queues this often (and on Close); default 10s.
	SnapshotEvery time.Duration
}

// URLs are the stack's endpoints (also written to .local/stack.json).
type URLs struct {
	Gateway       string `json:"gateway"`
	WeChatWebView string `json:"wechat_webview"`
	WeChatSandbox string `json:"wechat_sandbox"`
	AlipaySandbox string `json:"alipay_sandbox"`
	AlipayGateway string `json:"alipay_gateway"`
	DynamoDB      string `json:"dynamodb"`
	SQS           string `json:"sqs"`
	Control       string `json:"control"`
	// Outbox is the SES v2 and Tencent Cloud SMS sandbox: GET / is the page
	// a person reads, GET /messages the JSON list.
	Outbox string `json:"outbox"`
	// Einvoice is the e-invoice platform sandbox (诺诺开放平台's shape):
	// GET /sandbox/invoices lists what it issued, POST /sandbox/deliver
	// issues and calls back now.
	Einvoice string `json:"einvoice_sandbox"`
}

// Stack is a running local stack.
type Stack struct {
	opt    Options
	URLs   URLs
	Demo   *Demo
	Tables map[string]string // logical id -> table name
	Queues map[string]string // logical id -> queue URL

	queueNames map[string]string // logical id -> local queue name (FIFO names end in .fifo)

	keys      *Keys
	tmpl      *template.Template
	dyn       *dynamo.Server
	sqs       *sqsemu.Server
	wechat    *wechatsb.Server
	alipay    *alipaysb.Server
	outbox    *outbox.Server
	einvoice  *einvoicesb.Server
	pools     lambdaemu.Pools
	schedules map[string]scheduled
	servers   []*http.Server
	// gatewayGate and controlGate serve their ports from the start, 503
	// until Start has written stack.json and opens them.
	gatewayGate, controlGate *gateway.Gate
	cancel                   context.CancelFunc
	wg                       sync.WaitGroup
	log                      *slog.Logger
	out                      io.Writer
	closeOnce                sync.Once
	restored                 bool // tables and queues hold the saved state: Close may snapshot

	mu            sync.Mutex
	streamRunners []*streammap.Runner
}

type scheduled struct {
	function string
	event    schedule.EventOptions
	expr     schedule.Schedule
}

// Start brings the whole stack up.
func Start(ctx context.Context, opt Options) (s *Stack, err error) {
	if opt.Root == "" {
		opt.Root = "."
	}
	if opt.Root, err = filepath.Abs(opt.Root); err != nil {
		return nil, err
	}
	if opt.StateDir == "" {
		opt.StateDir = filepath.Join(opt.Root, ".local")
	}
	if opt.StateDir, err = filepath.Abs(opt.StateDir); err != nil {
		return nil, err
	}
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	if opt.Log == nil {
		opt.Log = os.Stdout
	}
	if opt.SnapshotEvery == 0 {
		opt.SnapshotEvery = 10 * time.Second
	}
	s = &Stack{opt: opt, out: opt.Log, log: slog.New(slog.NewTextHandler(opt.Log, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Tables: map[string]string{}, Queues: map[string]string{}, schedules: map[string]scheduled{}}
	var listeners map[string]net.Listener
	started := s // the error returns below set s to nil
	defer func() {
		if err != nil {
			started.Close()
			for _, l := range listeners {
				l.Close() // those not yet handed to a server (the rest are closed already)
			}
		}
	}()
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := os.MkdirAll(opt.StateDir, 0o755); err != nil {
		return nil, err
	}
	// A stack.json left by an earlier run describes a stack that is gone.
	if err := s.removeStackJSON(); err != nil {
		return nil, err
	}
	if s.tmpl, err = template.Load(filepath.Join(opt.Root, "template.yaml")); err != nil {
		return nil, err
	}
	if s.keys, err = LoadOrCreateKeys(filepath.Join(opt.StateDir, "keys")); err != nil {
		return nil, err
	}
	if listeners, err = s.listen(); err != nil {
		return nil, err
	}
	// Take the gateway and control ports now, answering 503 (Retry-After)
	// until everything is up: a client never hangs on a port that is bound
	// but not served, e.g. during the first build.
	s.gatewayGate, s.controlGate = gateway.NewGate(2*time.Second), gateway.NewGate(2*time.Second)
	s.serve(listeners["gateway"], s.gatewayGate)
	s.serve(listeners["control"], s.controlGate)
	fmt.Fprintf(s.out, "starting: %s (gateway) and %s (control) answer 503 until the stack is up\n", s.URLs.Gateway, s.URLs.Control)
	if err := s.startData(ctx, listeners); err != nil {
		return nil, err
	}
	s.startSandboxes(listeners)
	if err := s.startOutbox(listeners["outbox"]); err != nil {
		return nil, err
	}
	if err := s.startEinvoice(listeners["einvoice"]); err != nil {
		return nil, err
	}
	bins, err := s.binaries(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.startFunctions(bins); err != nil {
		return nil, err
	}
	gw, err := s.gatewayHandler()
	if err != nil {
		return nil, err
	}
	if err := s.startMappings(runCtx); err != nil {
		return nil, err
	}
	if err := s.startSchedules(runCtx); err != nil {
		return nil, err
	}
	if s.Tables["DirectoryTable"] != "" && s.Tables["OrdersTable"] != "" {
		st := &store.Store{DB: dynamo.Client(s.URLs.DynamoDB), Directory: s.Tables["DirectoryTable"], Orders: s.Tables["OrdersTable"], Access: s.Tables["AccessTable"], Bills: s.Tables["BillsTable"]}
		if s.Demo, err = s.seedDemo(ctx, st); err != nil {
			return nil, fmt.Errorf("seed demo: %w", err)
		}
		if err := s.seedDemoInvoice(ctx); err != nil { // demo_invoice.go
			return nil, fmt.Errorf("seed demo invoicing: %w", err)
		}
		// The overdue index's data migration, on state saved before it
		// existed (a no-op on bills that have its attributes).
		if s.restored {
			if _, err := st.BackfillOverdue(ctx, "", nil); err != nil {
				return nil, fmt.Errorf("backfill the overdue index: %w", err)
			}
		}
	}
	s.wg.Add(1)
	go s.snapshotLoop(runCtx)
	// stack.json first, then traffic: whoever sees the gateway answer can
	// read the file.
	if err := s.writeStackJSON(); err != nil {
		return nil, err
	}
	s.controlGate.Open(s.controlHandler())
	s.gatewayGate.Open(gw)
	return s, nil
}

var serviceOffsets = map[string]int{"gateway": 0, "webview": 1, "wechat": 2, "alipay": 3, "dynamodb": 4, "sqs": 5, "outbox": 6, "einvoice": 7, "control": 9}

func (s *Stack) listen() (map[string]net.Listener, error) {
	ls := map[string]net.Listener{}
	for name, off := range serviceOffsets {
		port := 0
		if s.opt.Port != 0 {
			port = s.opt.Port + off
		}
		l, err := net.Listen("tcp", net.JoinHostPort(s.opt.Host, strconv.Itoa(port)))
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, fmt.Errorf("listen for %s: %w (set PORT to move the stack)", name, err)
		}
		ls[name] = l
	}
	u := func(n string) string { return "http://" + ls[n].Addr().String() }
	s.URLs = URLs{Gateway: u("gateway"), WeChatWebView: u("webview"), WeChatSandbox: u("wechat"), AlipaySandbox: u("alipay"),
		AlipayGateway: u("alipay") + "/gateway.do", DynamoDB: u("dynamodb"), SQS: u("sqs"), Control: u("control"), Outbox: u("outbox"), Einvoice: u("einvoice")}
	return ls, nil
}

func (s *Stack) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
}

func (s *Stack) startData(ctx context.Context, ls map[string]net.Listener) error {
	// DynamoDB: minidyn binds its own listener, so hand the port back first.
	addr := ls["dynamodb"].Addr().String()
	ls["dynamodb"].Close()
	var err error
	if s.dyn, err = dynamo.Start(addr, dynamo.WithAccount(Region, AccountID)); err != nil {
		return err
	}
	tables := DynamoTables(s.tmpl)
	for _, t := range tables {
		s.Tables[t.Name] = t.Name
	}
	if err := s.dyn.CreateTables(ctx, tables); err != nil {
		return err
	}
	if snap := filepath.Join(s.opt.StateDir, "dynamodb.json"); fileExists(snap) {
		if err := s.dyn.Restore(ctx, snap); err != nil {
			return fmt.Errorf("restore %s: %w", snap, err)
		}
	}
	queues, err := s.tmpl.Queues()
	if err != nil {
		return err
	}
	s.queueNames = QueueNames(queues)
	var qc []sqsemu.QueueConfig
	for _, q := range queues {
		qc = append(qc, sqsemu.QueueConfig{Name: s.queueNames[q.LogicalID], VisibilityTimeout: time.Duration(q.VisibilityTimeoutSeconds) * time.Second,
			MessageRetention: time.Duration(q.RetentionSeconds) * time.Second, DeadLetterQueue: s.queueNames[q.DeadLetterQueue], MaxReceiveCount: q.MaxReceiveCount,
			FifoQueue: q.FifoQueue, ContentBasedDeduplication: q.ContentBasedDeduplication, DeduplicationScope: q.DeduplicationScope, FifoThroughputLimit: q.FifoThroughputLimit})
	}
	s.sqs = sqsemu.New(sqsemu.Config{Queues: qc, Region: Region, AccountID: AccountID})
	s.sqs.SetBaseURL(s.URLs.SQS)
	for _, q := range queues {
		s.Queues[q.LogicalID] = s.sqs.QueueURL(s.queueNames[q.LogicalID])
	}
	if snap := filepath.Join(s.opt.StateDir, "sqs.json"); fileExists(snap) {
		if err := s.sqs.RestoreFile(snap); err != nil {
			return fmt.Errorf("restore %s: %w", snap, err)
		}
	}
	s.serve(ls["sqs"], s.sqs.Handler())
	s.restored = true
	return nil
}

// QueueNames are the local names of the template's queues, by logical id: the
// logical id, with the .fifo suffix SQS requires for a FIFO queue.
func QueueNames(queues []template.Queue) map[string]string {
	names := map[string]string{}
	for _, q := range queues {
		names[q.LogicalID] = q.LogicalID
		if q.FifoQueue {
			names[q.LogicalID] += ".fifo"
		}
	}
	return names
}

// DynamoTables are the template's tables as the embedded DynamoDB creates them
// (locally a table is named by its logical id).
func DynamoTables(t *template.Template) []dynamo.Table {
	var out []dynamo.Table
	for _, tb := range t.Tables() {
		var ix []dynamo.Index
		for _, g := range tb.GSIs {
			ix = append(ix, dynamo.Index{Name: g.Name, HashKey: g.HashKey, RangeKey: g.RangeKey, ProjectionType: g.ProjectionType, NonKeyAttributes: g.NonKeyAttributes})
		}
		out = append(out, dynamo.Table{Name: tb.LogicalID, Attributes: tb.Attributes, HashKey: tb.HashKey, RangeKey: tb.RangeKey, GSIs: ix,
			TTLAttribute: tb.TTLAttribute, StreamViewType: tb.StreamViewType})
	}
	return out
}

func (s *Stack) startSandboxes(ls map[string]net.Listener) {
	k := s.keys
	sbLog := slog.New(slog.NewTextHandler(prefixWriter{s.out, "[sandbox] "}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s.wechat = wechatsb.New(wechatsb.Config{
		PlatformKey: k.WeChatPlatform, PlatformKeyID: DemoWeChatPublicKeyID,
		Merchants: []wechatsb.Merchant{{MchID: DemoWeChatMchID, SerialNo: DemoWeChatSerialNo, PublicKey: &k.WeChatMerchant.PublicKey,
			APIv3Key: k.APIv3Key, AppIDs: []string{DemoWeChatAppID}}},
		Apps:          []wechatsb.App{{AppID: DemoWeChatAppID, Secret: k.OAuthSecret}},
		RetrySchedule: s.opt.NotifyRetry,
		Logger:        sbLog,
		SameDayBills:  true, // settle and reconcile today in a demo (README, Settlement)
	})
	s.wechat.SetBaseURL(s.URLs.WeChatSandbox)
	s.serve(ls["wechat"], s.wechat.Handler())
	gw, _ := url.Parse(s.URLs.Gateway)
	s.serve(ls["webview"], wechatsb.WebView(gw, s.URLs.WeChatSandbox+"/sandbox/jsbridge.js"))
	s.alipay = alipaysb.New(alipaysb.Config{
		AlipayKey:     k.AlipayPlatform,
		Apps:          []alipaysb.App{{AppID: DemoAlipayAppID, PublicKey: &k.AlipayApp.PublicKey, SellerID: DemoAlipaySellerID}},
		RetrySchedule: s.opt.NotifyRetry,
		Logger:        sbLog,
		SameDayBills:  true, // settle and reconcile today in a demo (README, Settlement)
	})
	s.alipay.SetBaseURL(s.URLs.AlipaySandbox)
	s.serve(ls["alipay"], s.alipay.Handler())
}

// The SMS application, signature and template, and the SES identity, the
// outbox plays locally (the stack deploys the template with them).
const (
	LocalSmsSdkAppID       = "1400000000"
	LocalSmsSignName       = "小区收款"
	LocalSmsCodeTemplateID = "100001"
	// LocalSmsCodeTemplate is the verification-code template's text: one
	// parameter, the code.
	LocalSmsCodeTemplate = "您的登录验证码为{1}，5分钟内有效。如非本人操作，请忽略本短信。"
	// LocalSmsPaymentTemplateID is the staff payment message (FanoutFunction):
	// title, community, count, total.
	LocalSmsPaymentTemplateID = "100002"
	LocalSmsPaymentTemplate   = "{1}：{2}收款{3}，合计{4}。"
	LocalSesIdentity          = "estatepay.local"
	// LocalPaymentTemplateID is the demo official account's payment message template.
	LocalPaymentTemplateID = "demo-payment-notice"
	LocalSesFromAddress    = "小区收款 <noreply@estatepay.local>"
)

// startOutbox serves the outbox sandbox: SES v2 for the SDK's
// AWS_ENDPOINT_URL_SESV2 and Tencent Cloud SMS at TencentSmsEndpoint,
// signed with the keys under .local/keys; messages kept in .local/outbox.json.
func (s *Stack) startOutbox(l net.Listener) error {
	ob, err := outbox.New(outbox.Config{
		SMS: outbox.SMSConfig{SecretID: s.keys.TencentSMS.SecretID, SecretKey: s.keys.TencentSMS.SecretKey,
			SdkAppID: LocalSmsSdkAppID, SignName: LocalSmsSignName, Templates: map[string]string{LocalSmsCodeTemplateID: LocalSmsCodeTemplate, LocalSmsPaymentTemplateID: LocalSmsPaymentTemplate,
				LocalSmsRemindTemplateID: LocalSmsRemindTemplate}}, // 催缴 (demo_remind.go)
		Email: outbox.EmailConfig{Identities: []string{LocalSesIdentity}},
		// The demo official account's template messages (staff notifications, FanoutFunction).
		WeChatOA: map[string]string{DemoWeChatAppID: s.keys.OAuthSecret},
		File:     filepath.Join(s.opt.StateDir, "outbox.json"),
		Logger:   slog.New(slog.NewTextHandler(prefixWriter{s.out, "[outbox] "}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		return err
	}
	s.outbox = ob
	s.serve(l, ob.Handler())
	return nil
}

// Outbox returns the outbox sandbox (the messages the product sent).
func (s *Stack) Outbox() *outbox.Server { return s.outbox }

// WeChat and Alipay return the sandboxes (for tests and tools acting as payer).
func (s *Stack) WeChat() *wechatsb.Server { return s.wechat }
func (s *Stack) Alipay() *alipaysb.Server { return s.alipay }

// Store returns a store on the stack's tables, for tests and tools.
func (s *Stack) Store() *store.Store {
	return &store.Store{DB: dynamo.Client(s.URLs.DynamoDB), Directory: s.Tables["DirectoryTable"], Orders: s.Tables["OrdersTable"], Access: s.Tables["AccessTable"], Bills: s.Tables["BillsTable"]}
}

// Keys returns the sandbox and demo-merchant keys.
func (s *Stack) Keys() *Keys { return s.keys }

// DynamoDB returns the embedded DynamoDB server (request counts for benchmarks).
func (s *Stack) DynamoDB() *dynamo.Server { return s.dyn }

// SQS returns the queue server.
func (s *Stack) SQS() *sqsemu.Server { return s.sqs }

func (s *Stack) binaries(ctx context.Context) (map[string]string, error) {
	dir := s.opt.BinDir
	if dir == "" {
		dir = filepath.Join(s.opt.StateDir, "build")
		if _, err := build.FunctionsWithProgress(ctx, s.opt.Root, s.tmpl, build.Host, dir, s.out); err != nil {
			return nil, err
		}
	}
	bins := map[string]string{}
	for _, f := range s.tmpl.Functions() {
		b := filepath.Join(dir, f.LogicalID, "bootstrap")
		if !fileExists(b) {
			return nil, fmt.Errorf("no bootstrap for %s at %s", f.LogicalID, b)
		}
		bins[f.LogicalID] = b
	}
	return bins, nil
}

// Parameters are the template parameter values the local stack deploys with.
func (s *Stack) Parameters() map[string]string {
	p := map[string]string{
		"Stage":             "dev",
		"PublicBaseUrl":     s.URLs.Gateway,
		"WechatPayBaseUrl":  s.URLs.WeChatSandbox,
		"WechatOpenBaseUrl": s.URLs.WeChatSandbox,
		"WechatApiBaseUrl":  s.URLs.WeChatSandbox,
		"AlipayGatewayUrl":  s.URLs.AlipayGateway,
		// The sandbox serves Alipay's authorize page beside its gateway.
		"AlipayAuthorizeUrl": strings.TrimSuffix(s.URLs.AlipayGateway, "/gateway.do") + "/oauth2/publicAppAuthorize.htm",
		// The console writes the secrets entered in it as files under .local/keys.
		"ConsoleSecretsBase": "file://" + filepath.Join(s.opt.StateDir, "keys"),
	}
	p["PayerCookieKeySecretName"] = "file://" + filepath.Join(s.opt.StateDir, "keys", PayerCookieKeyFile)
	p["DynCodeKeySecretName"] = "file://" + filepath.Join(s.opt.StateDir, "keys", DynCodeKeyFile)
	p["TencentSmsEndpoint"] = s.URLs.Outbox
	p["TencentSmsSdkAppId"] = LocalSmsSdkAppID
	p["TencentSmsSignName"] = LocalSmsSignName
	p["TencentSmsCodeTemplateId"] = LocalSmsCodeTemplateID
	p["NotifySmsTemplateId"] = LocalSmsPaymentTemplateID
	p["RemindSmsTemplateId"] = LocalSmsRemindTemplateID   // 催缴 (demo_remind.go)
	p["RemindUnsubKeySecretName"] = s.remindUnsubKeyRef() // 催缴 退订 links (demo_remind.go)
	p["TencentSmsSecretName"] = "file://" + filepath.Join(s.opt.StateDir, "keys", TencentSMSSecretFile)
	// 分付 field encryption's key source (FENFU_KEY_REF): the local keyring.
	p["FenfuKeyRef"] = "file://" + filepath.Join(s.opt.StateDir, "keys", FenfuKeyringFile)
	p["SesIdentity"] = LocalSesIdentity
	p["SesFromAddress"] = LocalSesFromAddress
	// Staff open the console in the WeChat WebView through the demo official
	// account (the sandbox's OAuth), so logins carry an openid (M2 step-up).
	p["ConsoleWechatAppId"] = DemoWeChatAppID
	p["ConsoleWechatOAuthSecretName"] = "file://" + filepath.Join(s.opt.StateDir, "keys", "oauth-wechat-demo.json")
	// Its template messages (staff notifications) land in the outbox.
	p["WechatOfficialAccountApiBaseUrl"] = s.URLs.Outbox
	p["NotifyWechatTemplateId"] = LocalPaymentTemplateID
	p["RemindWechatTemplateId"] = LocalRemindWechatTemplateID // 催缴 by template message (demo_remind_oa.go)
	s.einvoiceParameters(p)                                   // einvoice.go
	return p
}

// AccessKeyID is the access key id a function's SDK signs with locally: one
// per function, so the embedded services know who called (dynamo.Calls) and
// tests can hold the template's policies to what each function really does.
func AccessKeyID(function string) string { return "LOCAL" + function }

// Resolver resolves the template's intrinsics to the local stack's names.
func (s *Stack) Resolver() template.Resolver { return s.resolver() }

func (s *Stack) resolver() template.Resolver {
	return template.Resolver{
		T:      s.tmpl,
		Params: s.Parameters(),
		Pseudo: map[string]string{"AWS::Region": Region, "AWS::AccountId": AccountID, "AWS::StackName": "estatepay-local", "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"},
		Ref: func(id string) (string, bool) {
			if t, ok := s.Tables[id]; ok {
				return t, true
			}
			if q, ok := s.Queues[id]; ok {
				return q, true
			}
			if _, ok := s.tmpl.Resources[id]; ok {
				return id, true
			}
			return "", false
		},
		GetAtt: func(id, attr string) (string, bool) {
			if _, ok := s.Queues[id]; ok {
				switch attr {
				case "Arn":
					return s.sqs.QueueArn(s.queueNames[id]), true
				case "QueueName":
					return s.queueNames[id], true
				case "QueueUrl":
					return s.Queues[id], true
				}
			}
			if t, ok := s.Tables[id]; ok {
				switch attr {
				case "Arn":
					return "arn:aws:dynamodb:" + Region + ":" + AccountID + ":table/" + t, true
				case "StreamArn":
					if src := s.streamSource(); src != nil {
						arn := src.StreamArn(t)
						return arn, arn != ""
					}
				}
			}
			return "", false
		},
	}
}

// FunctionEnv is the environment the template gives function f, resolved for
// this stack, plus the SDK's endpoint variables pointing at the embedded
// services (SES v2: the outbox).
func (s *Stack) FunctionEnv(f template.Function) ([]string, error) {
	r := s.resolver()
	env := []string{
		"AWS_REGION=" + Region, "AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID(f.LogicalID), "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.URLs.DynamoDB, "AWS_ENDPOINT_URL_SQS=" + s.URLs.SQS,
		"AWS_ENDPOINT_URL_SESV2=" + s.URLs.Outbox,
		"AWS_EC2_METADATA_DISABLED=true",
		"FENFU_CLOCK_FILE=" + s.riskClockFile(),    // the risk clock control (fenfu.go); local only
		"REMIND_CLOCK_FILE=" + s.remindClockFile(), // the reminders' clock control (demo_remind.go); local only
	}
	keys := make([]string, 0, len(f.Environment))
	for k := range f.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := r.String(f.Environment[k])
		if err != nil {
			return nil, fmt.Errorf("%s: env %s: %w", f.LogicalID, k, err)
		}
		env = append(env, k+"="+v)
	}
	return env, nil
}

func (s *Stack) startFunctions(bins map[string]string) error {
	s.pools = lambdaemu.Pools{}
	for _, f := range s.tmpl.Functions() {
		env, err := s.FunctionEnv(f)
		if err != nil {
			return err
		}
		s.pools[f.LogicalID] = lambdaemu.NewPool(lambdaemu.FunctionConfig{
			Name: f.LogicalID, Binary: bins[f.LogicalID], Dir: s.opt.Root, Env: env,
			Timeout: time.Duration(f.Timeout) * time.Second, MemoryMB: f.MemorySize, AccountID: AccountID,
			Output: prefixWriter{s.out, ""},
		})
	}
	return nil
}

// Invoke invokes a function by logical id and logs one line for it.
func (s *Stack) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	p, ok := s.pools[function]
	if !ok {
		return nil, fmt.Errorf("no function %s", function)
	}
	resp, info, err := p.Invoke(ctx, payload)
	temp := "warm"
	if info.Cold {
		temp = fmt.Sprintf("cold (init %s)", info.InitDuration.Round(time.Millisecond))
	}
	status := "ok"
	switch {
	case errors.Is(err, context.Canceled):
		status = "caller went away" // a client hung up: not a failure
	case err != nil:
		status = "error: " + err.Error()
	}
	fmt.Fprintf(s.out, "invoke %-22s %8s  %s  %s\n", function, info.Duration.Round(10*time.Microsecond), temp, status)
	return resp, err
}

// Routes returns the template's HttpApi routes as the local gateway serves
// them (no method is ANY, no path is $default).
func Routes(t *template.Template) []gateway.Route {
	var routes []gateway.Route
	for _, f := range t.Functions() {
		for _, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			m, p := e.Route()
			if m == "" {
				m = "ANY"
			}
			if p == "" {
				p = "$default"
			}
			routes = append(routes, gateway.Route{Method: m, Path: p, Function: f.LogicalID})
		}
	}
	return routes
}

// gatewayHandler is the template's HttpApi; Start opens the gateway's gate
// to it once the stack is up.
func (s *Stack) gatewayHandler() (http.Handler, error) {
	return gateway.New(Routes(s.tmpl), gateway.InvokerFunc(s.Invoke), gateway.Options{AccountID: AccountID, Logger: s.log})
}

// StreamsCaughtUp reports whether every stream mapping has delivered every
// record its table's stream holds now (tests wait on it instead of sleeping).
func (s *Stack) StreamsCaughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.streamRunners {
		if !r.CaughtUp() {
			return false
		}
	}
	return true
}

// streamSource is where DynamoDB stream mappings read the tables' streams:
// the embedded DynamoDB, which records every item change.
func (s *Stack) streamSource() streammap.Source { return s.dyn }

func (s *Stack) startMappings(ctx context.Context) error {
	var checkpoints *streammap.FileCheckpoints
	for _, f := range s.tmpl.Functions() {
		for _, e := range f.Events {
			if e.Type == "DynamoDB" {
				if checkpoints == nil {
					var err error
					if checkpoints, err = streammap.OpenCheckpoints(filepath.Join(s.opt.StateDir, "streams-checkpoint.json")); err != nil {
						return err
					}
				}
				if err := s.startStreamMapping(ctx, f.LogicalID, e, checkpoints); err != nil {
					return fmt.Errorf("%s.%s: %w", f.LogicalID, e.Name, err)
				}
				continue
			}
			if e.Type != "SQS" {
				continue
			}
			id, _, err := template.RefTarget(e.Properties["Queue"])
			if err != nil {
				return fmt.Errorf("%s.%s: %w", f.LogicalID, e.Name, err)
			}
			m := sqsemu.Mapping{Queue: s.queueNames[id], BatchSize: intProp(e.Properties["BatchSize"], 10)}
			if w := intProp(e.Properties["MaximumBatchingWindowInSeconds"], 0); w > 0 {
				m.MaximumBatchingWindow = time.Duration(w) * time.Second
			}
			for _, t := range listProp(e.Properties["FunctionResponseTypes"]) {
				if t == "ReportBatchItemFailures" {
					m.ReportBatchItemFailures = true
				}
			}
			fn := f.LogicalID
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := s.sqs.RunMapping(ctx, m, func(ctx context.Context, ev []byte) ([]byte, error) { return s.Invoke(ctx, fn, ev) })
				if err != nil && !errors.Is(err, context.Canceled) {
					fmt.Fprintf(s.out, "mapping %s -> %s stopped: %v\n", m.Queue, fn, err)
				}
			}()
		}
	}
	return nil
}

// startStreamMapping runs a `Type: DynamoDB` event's mapping: the table's
// stream into function fn, its position kept in checkpoints.
func (s *Stack) startStreamMapping(ctx context.Context, fn string, e template.Event, checkpoints streammap.Checkpoints) error {
	ev, err := s.tmpl.StreamEvent(e)
	if err != nil {
		return err
	}
	if !ev.Enabled {
		return nil
	}
	src := s.streamSource()
	m := streammap.Mapping{
		Name: fn + "." + e.Name, Table: s.Tables[ev.Table], FunctionArn: "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + fn, Region: Region,
		StartingPosition: ev.StartingPosition, BatchSize: ev.BatchSize, MaximumBatchingWindow: time.Duration(ev.MaximumBatchingWindowInSeconds) * time.Second,
		BisectBatchOnFunctionError: ev.BisectBatchOnFunctionError, MaximumRetryAttempts: ev.MaximumRetryAttempts,
		ReportBatchItemFailures: ev.ReportBatchItemFailures, Checkpoints: checkpoints,
		Logf: func(format string, args ...any) { fmt.Fprintf(s.out, "stream mapping "+format+"\n", args...) },
	}
	if ev.MaximumRecordAgeInSeconds > 0 {
		m.MaximumRecordAge = time.Duration(ev.MaximumRecordAgeInSeconds) * time.Second
	}
	if ev.OnFailure != "" {
		q := s.queueNames[ev.OnFailure]
		m.OnFailure = func(_ context.Context, rec []byte) error {
			_, err := s.sqs.Send(q, string(rec))
			return err
		}
	}
	r, err := streammap.Start(src, m, func(ctx context.Context, ev []byte) ([]byte, error) { return s.Invoke(ctx, fn, ev) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.streamRunners = append(s.streamRunners, r)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(s.out, "stream mapping %s -> %s stopped: %v\n", m.Table, fn, err)
		}
	}()
	return nil
}

func (s *Stack) startSchedules(ctx context.Context) error {
	runner := schedule.NewRunner(schedule.RealClock{})
	for _, f := range s.tmpl.Functions() {
		for _, e := range f.Events {
			if e.Type != "ScheduleV2" && e.Type != "Schedule" {
				continue
			}
			expr, _ := e.Properties["ScheduleExpression"].(string)
			tz, _ := e.Properties["ScheduleExpressionTimezone"].(string)
			sc, err := schedule.Parse(expr, tz)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", f.LogicalID, e.Name, err)
			}
			input, _ := e.Properties["Input"].(string)
			name := f.LogicalID + "." + e.Name
			s.schedules[name] = scheduled{function: f.LogicalID, expr: sc,
				event: schedule.EventOptions{Source: schedule.Source(e.Type), Name: name, Input: input, Region: Region, Account: AccountID}}
			fn, ev := f.LogicalID, s.schedules[name].event
			runner.Add(name, sc, func(ctx context.Context, at time.Time) {
				_, _ = s.Invoke(ctx, fn, schedule.Payload(ev, at))
			})
		}
	}
	if s.opt.NoSchedules {
		return nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = runner.Run(ctx)
	}()
	return nil
}

// FireSchedule invokes a schedule's function now, with input (or the template's Input if empty).
func (s *Stack) FireSchedule(ctx context.Context, name, input string) ([]byte, error) {
	sc, ok := s.schedules[name]
	if !ok {
		return nil, fmt.Errorf("no schedule %q (have %s)", name, strings.Join(s.ScheduleNames(), ", "))
	}
	ev := sc.event
	if input != "" {
		ev.Input = input
	}
	return s.Invoke(ctx, sc.function, schedule.Payload(ev, time.Now()))
}

// ScheduleNames lists Function.Event names of the template's schedules.
func (s *Stack) ScheduleNames() []string {
	var out []string
	for n := range s.schedules {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Stack) snapshotLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opt.SnapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Snapshot(context.Background()); err != nil {
				fmt.Fprintf(s.out, "snapshot failed: %v\n", err)
			}
		}
	}
}

// Snapshot persists all tables and queues under StateDir.
func (s *Stack) Snapshot(ctx context.Context) error {
	if err := s.dyn.Snapshot(ctx, filepath.Join(s.opt.StateDir, "dynamodb.json")); err != nil {
		return err
	}
	return s.sqs.SnapshotFile(filepath.Join(s.opt.StateDir, "sqs.json"))
}

// Close snapshots and stops everything.
func (s *Stack) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		for _, srv := range s.servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
		if s.pools != nil {
			errs = append(errs, s.pools.Close())
		}
		s.wg.Wait()
		if s.restored { // never overwrite state files a failed start did not load
			errs = append(errs, s.Snapshot(context.Background()))
		}
		errs = append(errs, s.removeStackJSON()) // it describes a running stack
		if s.wechat != nil {
			s.wechat.Close()
		}
		if s.alipay != nil {
			s.alipay.Close()
		}
		if s.sqs != nil {
			s.sqs.Close()
		}
		if s.dyn != nil {
			errs = append(errs, s.dyn.Close())
		}
	})
	return errors.Join(errs...)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func intProp(v any, def int) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n
		}
	}
	return def
}

func listProp(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// prefixWriter writes to w with a prefix per Write (callers write whole lines).
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if p.prefix == "" {
		return p.w.Write(b)
	}
	_, err := p.w.Write(append([]byte(p.prefix), b...))
	return len(b), err
}
