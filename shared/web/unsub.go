package web

// UnsubPage is the arrears reminders' 退订 page (unsub.html): the question
// with its confirm button (Confirm), or the outcome.
type UnsubPage struct {
	Title, Community, Message string
	Confirm                   bool
	Action                    string // the form's target: the link itself
}
