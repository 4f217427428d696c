package template_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/estatepay/estatepay/infra/local/stack"
	"github.com/estatepay/estatepay/infra/local/stacktest"
)

// managersCollect is the business managers' app as a manager and an admin
// use it (issue 11): the manager shows their code (issued on first use),
// a customer pays it with the fields filled in (landing, orders, callback),
// the manager reads 收款记录 (the AdminFunction's Query of the collector
// index) and one record with its refunds, refreshes the code (ONE
// TransactWriteItems of Puts on the DirectoryTable), and the replaced code,
// aged past its 3 hours, answers 410; makes a 应收款 code for a house's
// unpaid bill (the BillsTable reads and the notice's PutItem); the admin
// adds an extra code with a preset and prints its plate.
func managersCollect(t *testing.T, s *stack.Stack) {
	t.Helper()
	m := stacktest.Console(t, s, "manager", stack.DemoCompanyID)
	var code struct {
		URL string `json:"url"`
	}
	m.GetJSON(t, "/m/api/code", &code)
	tok := code.URL[strings.LastIndex(code.URL, "/")+1:]
	send(t, http.MethodGet, s.URLs.Gateway+"/c/"+tok, uaAlipay, "", nil)
	o := stacktest.CreateOrder(t, s, tok, "alipay", 880, "")
	send(t, http.MethodGet, o.Pay.RedirectURL, uaAlipay, "", nil)
	if err := s.Alipay().Pay(o.OrderID); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the manager's payment paid", 20*time.Second, func() bool { return stacktest.GetOrder(t, s, o.OrderID).Status == "PAID" })
	var recs struct {
		Records []struct {
			ID string `json:"id"`
		} `json:"records"`
	}
	m.GetJSON(t, "/m/api/records?q=8.80", &recs)
	if len(recs.Records) == 0 || recs.Records[0].ID != o.OrderID {
		t.Fatalf("the manager's records: %+v", recs)
	}
	var one struct {
		ID string `json:"id"`
	}
	m.GetJSON(t, "/m/api/records/"+o.OrderID, &one)
	if status, body := m.Call(t, http.MethodPost, "/m/api/code/refresh", "application/json", []byte(`{}`)); status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, body)
	}
	if _, err := s.AgeManagerCodes(t.Context(), 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	if status, _ := send(t, http.MethodGet, s.URLs.Gateway+"/c/"+tok, uaAlipay, "", nil); status != http.StatusGone && status != http.StatusOK {
		t.Fatalf("the replaced code: %d", status) // 200 while the landing function's cache still holds it
	}

	// 应收款: a house of 阳光花园, one of its unpaid bills, a one-time code for it.
	var houses struct {
		Houses []struct {
			ID string `json:"id"`
		} `json:"houses"`
	}
	m.GetJSON(t, "/m/api/receivables/houses?community=demo-both", &houses)
	made := false
	for _, hh := range houses.Houses {
		var hb struct {
			Bills []struct {
				ID     string `json:"id"`
				Paying bool   `json:"paying"`
			} `json:"bills"`
		}
		m.GetJSON(t, "/m/api/receivables/houses/"+hh.ID, &hb)
		if len(hb.Bills) == 0 || hb.Bills[0].Paying {
			continue
		}
		status, body := m.Call(t, http.MethodPost, "/m/api/receivables", "application/json", []byte(`{"house_id":"`+hh.ID+`","bill_ids":["`+hb.Bills[0].ID+`"]}`))
		var rcv struct {
			ID string `json:"id"`
		}
		if status != http.StatusCreated || json.Unmarshal(body, &rcv) != nil {
			t.Fatalf("receivable: %d %s", status, body)
		}
		m.GetJSON(t, "/m/api/receivables/"+rcv.ID, &rcv)
		made = true
		break
	}
	if !made {
		t.Fatal("no house of 阳光花园 with an unpaid bill")
	}

	admin := stacktest.Console(t, s, "admin", stack.DemoCompanyID)
	if status, body := admin.Call(t, http.MethodGet, "/admin/managers", "", nil); status != http.StatusOK {
		t.Fatalf("managers page: %d %s", status, body)
	}
	form := "name=IAM%E5%AE%A2%E6%88%B7&p_room=9-9-909&csrf=" + admin.CSRF
	if status, body := admin.Call(t, http.MethodPost, "/admin/managers/"+stack.DemoManagerID+"/codes", "application/x-www-form-urlencoded", []byte(form)); status != http.StatusFound {
		t.Fatalf("add extra code: %d %s", status, body)
	}
	if status, body := admin.Call(t, http.MethodGet, "/admin/managers/"+stack.DemoManagerID+"/codes/default/plate", "", nil); status != http.StatusOK {
		t.Fatalf("plate: %d %s", status, body)
	}
}
