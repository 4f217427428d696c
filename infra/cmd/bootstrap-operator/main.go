// Command bootstrap-operator creates the first platform operator of a
// deployment, once:
//
//	go run ./infra/cmd/bootstrap-operator -table <AccessTableName output> \
//	    -base-url https://pay.example.com -phone 13800000000 -email ops@example.com [-name 平台运营]
//
// It writes the operator (pending) together with a one-time singleton item
// (OPERATOR#FIRST, conditional put): if any operator was ever bootstrapped
// it changes nothing and says so, so running it again — by hand or from a
// deploy script — is harmless. The one-time link to set the password (24 h)
// is printed on the terminal of whoever runs it (they hold the deployment's
// AWS credentials already); the operator opens it, sets a password and logs
// in at <base-url>/admin/login, then creates the companies' admins in the
// console. AWS credentials and region come from the usual SDK sources
// (AWS_PROFILE, AWS_REGION, …; AWS_ENDPOINT_URL_DYNAMODB for a local stack).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/estatepay/estatepay/shared/accounts"
	"github.com/estatepay/estatepay/shared/notify"
	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	ctx := context.Background()
	err := run(ctx, os.Args[1:], os.Stdout, func(table string) (accounts.Repository, error) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		return &store.Access{DB: dynamodb.NewFromConfig(cfg), Table: table}, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap-operator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer, repo func(table string) (accounts.Repository, error)) error {
	fs := flag.NewFlagSet("bootstrap-operator", flag.ContinueOnError)
	fs.SetOutput(out)
	table := fs.String("table", os.Getenv("ACCESS_TABLE"), "the AccessTable's name (stack output AccessTableName; default $ACCESS_TABLE)")
	baseURL := fs.String("base-url", "", "the console's public URL (the PublicBaseUrl parameter)")
	phone := fs.String("phone", "", "the operator's mobile number (the login name)")
	email := fs.String("email", "", "the operator's e-mail address")
	name := fs.String("name", "平台运营", "the operator's name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" || *baseURL == "" || *phone == "" || *email == "" {
		fs.Usage()
		return errors.New("-table, -base-url, -phone and -email are required")
	}
	r, err := repo(*table)
	if err != nil {
		return err
	}
	svc := &accounts.Service{Repo: r, Email: terminal{out}, PublicBaseURL: *baseURL}
	v, err := svc.BootstrapOperator(ctx, accounts.NewStaff{Name: *name, Phone: *phone, Email: *email})
	if errors.Is(err, accounts.ErrOperatorExists) {
		fmt.Fprintln(out, "An operator was bootstrapped already: nothing changed. Operators create further operators in the console.")
		return nil
	}
	if err != nil {
		var inv *accounts.InvalidError
		if errors.As(err, &inv) {
			return errors.New(inv.Msg)
		}
		return err
	}
	fmt.Fprintf(out, "Operator %s (%s) created, pending until the password is set.\n", v.ID, v.Phone)
	return nil
}

// terminal delivers the set-password e-mail to whoever runs the command.
type terminal struct{ w io.Writer }

func (t terminal) SendEmail(_ context.Context, m notify.EmailMessage) error {
	_, err := fmt.Fprintf(t.w, "\nSet-password link for %s (hand it to them; it works once, for 24 hours):\n\n%s\n", m.To, m.Text)
	return err
}
