# Developer shortcuts; CI runs .ci/run.
PG_URL    ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: help run generate lint test test-real ci

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## serve on the embedded defaults (SQLite, in-process Redis)
	go run ./cmd/till serve

generate: ## regenerate ent, schema/ent.graphql and the gqlgen executor
	go generate ./...

lint: ## go vet
	go vet ./...

test: ## the test suite on the embedded defaults
	go test -race -timeout 30m ./...

test-real: ## the test suite on PostgreSQL and Redis
	TILL_TEST_DATABASE_URL='$(PG_URL)' TILL_TEST_REDIS_URL='$(REDIS_URL)' go test -race -timeout 30m ./...

ci: ## what CI runs
	bash .ci/run
