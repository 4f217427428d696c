package alipay

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"
)

// Trade statuses as Alipay reports them.
const (
	StatusWaitBuyerPay = "WAIT_BUYER_PAY"
	StatusSuccess      = "TRADE_SUCCESS"
	StatusFinished     = "TRADE_FINISHED"
	StatusClosed       = "TRADE_CLOSED"
)

const timeLayout = "2006-01-02 15:04:05"

// cst is Asia/Shanghai (no DST since 1991), fixed so no tzdata is needed.
var cst = time.FixedZone("CST", 8*3600)

type trade struct {
	key      string
	app      App
	authApp  string // auth_app_id reported in notifications
	tradeNo  string
	outTrade string
	subject  string
	body     string
	totalFen int64
	status   string
	created  time.Time
	paid     time.Time
	closed   time.Time
	expire   time.Time // zero: no absolute expiry

	notifyURL, returnURL, quitURL    string
	buyerID, buyerOpenID, buyerLogon string

	refunds     []*refund
	refundedFen int64
}

type refund struct {
	outRequestNo string
	amountFen    int64
	reason       string
	at           time.Time
}

func tradeKey(app App, outTradeNo string) string {
	scope := app.SellerID
	if scope == "" {
		scope = "app:" + app.AppID
	}
	return scope + "\x00" + outTradeNo
}

// refreshLocked applies time_expire: an unpaid trade past its expiry is closed.
func (s *Server) refreshLocked(t *trade) {
	if t.status == StatusWaitBuyerPay && !t.expire.IsZero() && !s.now().Before(t.expire) {
		t.status = StatusClosed
		t.closed = t.expire
	}
}

func (t *trade) findRefund(outRequestNo string) *refund {
	for _, r := range t.refunds {
		if r.outRequestNo == outRequestNo {
			return r
		}
	}
	return nil
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

func randomHex(nBytes int) string {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// newTradeNo makes a 28-digit trade_no shaped like Alipay's (date + 22001 + digits).
func newTradeNo(now time.Time) string {
	return now.In(cst).Format("20060102") + "22001" + randomDigits(15)
}

func newBuyer() (id, openID, logon string) {
	return "2088" + randomDigits(12), "0" + randomHex(20)[:39], fmt.Sprintf("138******%s", randomDigits(2))
}
