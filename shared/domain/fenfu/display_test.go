package fenfu

import "testing"

func TestDisplay(t *testing.T) {
	exp := &Exposure{Show: true, Grade: "B", Token: "tok"}
	low := &Exposure{Show: true, Grade: "C", Token: "tok"}
	cases := []struct {
		name string
		in   DisplayInput
		want Placement
	}{
		{"9.99 not first", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 999, Exposure: exp}, Hidden},
		{"10.00", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 1000, Exposure: exp}, First},
		{"9.99 first of day", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 999, FirstOfDay: true, Exposure: exp}, First},
		{"0.01 first of day", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 1, FirstOfDay: true, Exposure: low}, Offer},
		{"grade C offered not first", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 5000, Exposure: low}, Offer},
		{"grade A first", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 5000, Exposure: &Exposure{Show: true, Grade: "A", Token: "t"}}, First},
		{"not enabled", DisplayInput{MerchantOffers: false, JSAPI: true, AmountFen: 5000, Exposure: exp}, Hidden},
		{"H5/Native", DisplayInput{MerchantOffers: true, JSAPI: false, AmountFen: 5000, Exposure: exp}, Hidden},
		{"provider says no", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 5000, Exposure: &Exposure{Show: false, Grade: "A", Token: "t"}}, Hidden},
		{"no answer", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 5000}, Hidden},
		{"no token", DisplayInput{MerchantOffers: true, JSAPI: true, AmountFen: 5000, Exposure: &Exposure{Show: true, Grade: "A"}}, Hidden},
	}
	for _, c := range cases {
		if got := Display(c.in); got != c.want {
			t.Errorf("%s: Display = %q, want %q", c.name, got, c.want)
		}
	}
}
