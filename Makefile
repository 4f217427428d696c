# estatepay — every target is documented in README.md ("Make targets").
SHELL := /bin/bash
GO    ?= go
PORT  ?= 8080

.PHONY: help run reset test race lint fmt bench build build-host package deploy sweep settle remind backfill-overdue clean voice

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

run: ## start the whole product locally (gateway on 127.0.0.1:$(PORT))
	PORT=$(PORT) $(GO) run ./infra/local/cmd/localstack

reset: ## wipe local data (.local/: tables, queues, keys, demo codes)
	rm -rf .local

test: lint ## vet, format check and every test (unit, integration, browser)
	$(GO) test -count=1 -timeout 30m ./...

race: ## the concurrency-heavy packages again under the race detector
	$(GO) test -count=1 -race -timeout 30m ./infra/local/... ./shared/...

lint: ## go vet and gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt: ## format all Go files
	gofmt -w $$(git ls-files '*.go')

bench: ## print binary sizes, cold/warm latencies vs hello-world, payment p50/p99, DynamoDB calls per payment, fan-out events/s, settlement of 1M synthetic orders (BENCH_ARGS=-big: also 100k bills, settlement of 20k orders on the embedded DynamoDB)
	$(GO) run ./infra/bench $(BENCH_ARGS)

build: ## build every template function for Lambda (linux/arm64) into dist/<Function>/bootstrap
	$(GO) run ./infra/build/cmd/build -target lambda -out dist

build-host: ## build every template function for this machine into .local/build
	$(GO) run ./infra/build/cmd/build -target host

package: ## build for Lambda and write dist/<Function>.zip and dist/template.yaml
	$(GO) run ./infra/build/cmd/build -target lambda -out dist -package

deploy: package ## sam deploy dist/template.yaml with samconfig.toml (needs the SAM CLI and AWS credentials)
	sam deploy --config-file samconfig.toml

# The running stack's control URL is urls.control in .local/stack.json (which
# exists only while a stack is up); PORT given to make (or in the environment)
# means that stack's gateway port instead, control being PORT+9.
sweep: ## fire the sweeper schedule now on the running local stack (control URL from .local/stack.json)
	@if [ "$(origin PORT)" != file ]; then ctl="http://127.0.0.1:$$(( $(PORT) + 9 ))"; \
	elif [ -f .local/stack.json ]; then ctl=$$(sed -n 's/^ *"control": *"\([^"]*\)".*/\1/p' .local/stack.json | head -n 1); \
	else echo "make sweep: no local stack is running (.local/stack.json is missing); start one with make run, or give PORT" >&2; exit 1; fi; \
	[ -n "$$ctl" ] || { echo "make sweep: .local/stack.json has no urls.control" >&2; exit 1; }; \
	echo "POST $$ctl/schedules/SweeperFunction.Sweep" >&2; \
	curl -fsS -X POST "$$ctl/schedules/SweeperFunction.Sweep" && echo

settle: ## settle and reconcile a day now on the running local stack: DAY=2006-01-02 (default today), COMPANY=, IFACE= optional
	@if [ "$(origin PORT)" != file ]; then ctl="http://127.0.0.1:$$(( $(PORT) + 9 ))"; \
	elif [ -f .local/stack.json ]; then ctl=$$(sed -n 's/^ *"control": *"\([^"]*\)".*/\1/p' .local/stack.json | head -n 1); \
	else echo "make settle: no local stack is running (.local/stack.json is missing); start one with make run, or give PORT" >&2; exit 1; fi; \
	[ -n "$$ctl" ] || { echo "make settle: .local/stack.json has no urls.control" >&2; exit 1; }; \
	day="$(DAY)"; [ -n "$$day" ] || day=$$(TZ=Asia/Shanghai date +%Y-%m-%d); \
	body="{\"day\":\"$$day\",\"company\":\"$(COMPANY)\",\"interface\":\"$(IFACE)\"}"; \
	echo "POST $$ctl/schedules/SettleFunction.Settle $$body" >&2; \
	curl -fsS -X POST --data "$$body" "$$ctl/schedules/SettleFunction.Settle" && echo

voice: ## regenerate the spoken announcements' clips (shared/voice/clips, committed) with espeak-ng: apt-get install -y espeak-ng
	$(GO) run ./infra/cmd/voice

remind: ## run the arrears reminders now on the running local stack: COMMUNITY=demo-both COMPANY=demo-company (both empty: every community with reminders on)
	@if [ "$(origin PORT)" != file ]; then ctl="http://127.0.0.1:$$(( $(PORT) + 9 ))"; \
	elif [ -f .local/stack.json ]; then ctl=$$(sed -n 's/^ *"control": *"\([^"]*\)".*/\1/p' .local/stack.json | head -n 1); \
	else echo "make remind: no local stack is running (.local/stack.json is missing); start one with make run, or give PORT" >&2; exit 1; fi; \
	[ -n "$$ctl" ] || { echo "make remind: .local/stack.json has no urls.control" >&2; exit 1; }; \
	body=""; [ -z "$(COMMUNITY)" ] || body="{\"company\":\"$(or $(COMPANY),demo-company)\",\"community\":\"$(COMMUNITY)\"}"; \
	echo "POST $$ctl/schedules/RemindFunction.Remind $$body" >&2; \
	curl -fsS -X POST --data "$$body" "$$ctl/schedules/RemindFunction.Remind" && echo

backfill-overdue: ## give bills written before the overdue index its attributes: BILLS_TABLE= DIRECTORY_TABLE= (deployed table names; your AWS credentials), COMPANY= optional
	$(GO) run ./infra/cmd/backfill-overdue -bills-table "$(BILLS_TABLE)" -directory-table "$(DIRECTORY_TABLE)" $(if $(COMPANY),-company "$(COMPANY)")

clean: ## remove build output
	rm -rf dist .local/build
