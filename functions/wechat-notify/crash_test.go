//go:build linux

package main

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
	wechatsb "github.com/estatepay/estatepay/infra/sandbox/wechat"
	"github.com/estatepay/estatepay/shared/domain/order"
)

// processesOf lists the pids of running processes executing exe (this test
// binary's own function builds, so only this stack's instances).
func processesOf(t testing.TB, exe string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && link == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAll SIGKILLs every running instance of exe and returns how many.
func killAll(t testing.TB, exe string) int {
	t.Helper()
	n := 0
	for _, pid := range processesOf(t, exe) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// TestWeChatNotifyKilledMidCallback kills the notify function at random
// moments while it handles genuine callbacks (before, during and after its
// write), and now and then the stream relay while it publishes. WeChat
// redelivers whatever was not answered 204. Every order must end PAID with
// exactly one payment.succeeded event, and nothing may land in the relay's
// failure queue.
func TestWeChatNotifyKilledMidCallback(t *testing.T) {
	s := stacktest.Start(t)
	bin := stacktest.Binaries(t)
	notifyExe := filepath.Join(bin, "WechatNotifyFunction", "bootstrap")
	relayExe := filepath.Join(bin, "RelayFunction", "bootstrap")
	token := stacktest.CommunityToken(t, s, "demo-both")
	openID := wechatsb.OpenID(stack.DemoWeChatAppID, "resident-crash")

	type delivery struct {
		id   string
		body []byte
		hdr  http.Header
		cb   wxCallback
	}
	post := func(d delivery) reply {
		req, err := http.NewRequest(http.MethodPost, s.URLs.Gateway+"/notify/wechat/demo-wechat", bytes.NewReader(d.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = d.hdr.Clone()
		r, err := do(req)
		if err != nil {
			t.Fatalf("post callback for %s: %v", d.id, err)
		}
		return r
	}

	const n = 24
	var ds []delivery
	for i := range n {
		o := stacktest.CreateOrder(t, s, token, "wechat", int64(1000+i), openID)
		cb := wxCallback{OrderID: o.OrderID, AmountFen: int64(1000 + i), OpenID: openID}.filled(s)
		body, hdr := cb.build(t, s)
		ds = append(ds, delivery{id: o.OrderID, body: body, hdr: hdr, cb: cb})
	}
	stacktest.DrainEvents(t, s) // creation makes none; start from an empty queue

	// How long a cold callback takes here, so the kills below spread over
	// the whole invocation (start, handler, write, answer).
	killAll(t, notifyExe)
	probe := stacktest.CreateOrder(t, s, token, "wechat", 999, openID)
	pb, ph := wxCallback{OrderID: probe.OrderID, AmountFen: 999, OpenID: openID}.build(t, s)
	began := time.Now()
	if r := post(delivery{id: probe.OrderID, body: pb, hdr: ph}); r.Status != http.StatusNoContent {
		t.Fatalf("probe callback: %d %q", r.Status, r.Body)
	}
	cold := time.Since(began)
	if len(processesOf(t, notifyExe)) == 0 {
		t.Fatalf("no running %s after a callback: the kills below would hit nothing", notifyExe)
	}
	stacktest.DrainEvents(t, s)
	t.Logf("cold callback: %v", cold)

	kills, crashed, landed, relayKills := 0, 0, 0, 0
	for i, d := range ds {
		replies := make(chan reply, 1)
		go func() { replies <- post(d) }()
		// The crash moment is the fixture's choice: anywhere in the
		// invocation, a little past its usual end.
		time.Sleep(time.Duration(rand.Int64N(int64(cold + cold/4))))
		kills += killAll(t, notifyExe)
		if i%5 == 2 && relayKills < 3 {
			relayKills += killAll(t, relayExe)
		}
		r := <-replies
		if r.Status != http.StatusNoContent {
			if r.Status < 500 {
				t.Fatalf("order %s: %d %q (want 204, or 5xx when killed)", d.id, r.Status, r.Body)
			}
			crashed++
			if stacktest.StoredOrder(t, s, d.id).Status == order.Paid {
				landed++ // killed after its write, before its answer
			}
			// WeChat redelivers until it gets 204.
			for attempt := 2; ; attempt++ {
				if r = post(d); r.Status == http.StatusNoContent {
					break
				}
				if attempt == 10 {
					t.Fatalf("order %s: redelivery %d: %d %q", d.id, attempt, r.Status, r.Body)
				}
			}
		}
	}
	t.Logf("%d notify processes killed; %d of %d first deliveries failed (%d after the order was written); %d relay processes killed",
		kills, crashed, n, landed, relayKills)
	if crashed == 0 {
		t.Fatal("no delivery was interrupted by a kill: the test proved nothing")
	}

	evs := stacktest.DrainEvents(t, s)
	byOrder := map[string][]order.Event{}
	for _, e := range evs {
		byOrder[e.OrderID] = append(byOrder[e.OrderID], e)
	}
	for _, d := range ds {
		st := stacktest.StoredOrder(t, s, d.id)
		if st.Status != order.Paid || st.ProviderTxnID != d.cb.TxnID || !st.PaidAt.Equal(d.cb.PaidAt) {
			t.Errorf("order %s: %+v", d.id, st)
			continue
		}
		if got := byOrder[d.id]; len(got) != 1 {
			t.Errorf("order %s: %d events, want exactly 1: %+v", d.id, len(got), got)
		} else {
			stacktest.CheckEvent(t, got[0], order.EventPaid, st)
		}
	}
	if len(evs) != n {
		t.Errorf("%d events for %d paid orders", len(evs), n)
	}
	if v, f, ok := s.SQS().Depth("RelayFailuresQueue"); !ok || v+f != 0 {
		t.Errorf("relay failures queue: visible=%d inflight=%d ok=%v", v, f, ok)
	}
}
