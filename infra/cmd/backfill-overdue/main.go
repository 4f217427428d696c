// Command backfill-overdue gives the bills written before the BillsTable's
// sparse `overdue` index existed its attributes (od_pk, od_sk), once after
// the stack update that added the index:
//
//	go run ./infra/cmd/backfill-overdue -bills-table <BillsTable> -directory-table <DirectoryTable> [-company <id>]
//
// For every company (or one) and each of its communities it pages the
// `community` index (a Query, never a Scan) and sets the attributes on each
// owed bill that lacks them, on condition that the bill is still at the
// version read (a bill changed meanwhile was written whole, with them).
// Running it again changes nothing. AWS credentials and region come from the
// usual SDK sources (AWS_ENDPOINT_URL_DYNAMODB for a local stack).
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

	"github.com/estatepay/estatepay/shared/store"
)

func main() {
	ctx := context.Background()
	err := run(ctx, os.Args[1:], os.Stdout, func() (*dynamodb.Client, error) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		return dynamodb.NewFromConfig(cfg), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "backfill-overdue:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer, client func() (*dynamodb.Client, error)) error {
	fs := flag.NewFlagSet("backfill-overdue", flag.ContinueOnError)
	fs.SetOutput(out)
	bills := fs.String("bills-table", os.Getenv("BILLS_TABLE"), "the BillsTable's name (default $BILLS_TABLE)")
	dir := fs.String("directory-table", os.Getenv("DIRECTORY_TABLE"), "the DirectoryTable's name (default $DIRECTORY_TABLE)")
	company := fs.String("company", "", "only this company (default: every company)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bills == "" || *dir == "" {
		fs.Usage()
		return errors.New("-bills-table and -directory-table are required")
	}
	db, err := client()
	if err != nil {
		return err
	}
	st := &store.Store{DB: db, Directory: *dir, Bills: *bills}
	total, err := st.BackfillOverdue(ctx, *company, func(co, cm string, n int) {
		fmt.Fprintf(out, "%s/%s: %d bills\n", co, cm, n)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backfilled %d bills\n", total)
	return nil
}
