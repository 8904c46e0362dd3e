# The one place that says how dbsync is built and tested; README, .ci/run
# and host.json (defaultExecutablePath) agree with it.

# The Functions host runs bin/handler (host.json). A static Linux binary:
# modernc.org/sqlite is pure Go, so no cgo is needed.
BIN := bin/handler

# Stamp the VCS revision into the build info (`handler version`, the run
# report's version): explicitly, since a GOFLAGS=-buildvcs=false in the
# environment would turn Go's default off; "auto" outside a git checkout,
# where true would fail the build.
BUILDVCS := $(shell git rev-parse --git-dir >/dev/null 2>&1 && echo true || echo auto)

# Root needs no sudo (CI, containers); anyone else does for apt-get.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: build build-native demo demo-mysql test test-deps vet bench fuzz clean

build:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=$(BUILDVCS) -o $(BIN) ./handler

# bin/handler for this machine's own OS and architecture, for `func start` on
# macOS, Windows or arm64 (the Functions host runs the linux/amd64 one). On
# Windows, name it bin/handler.exe and point host.json at it for local runs.
build-native:
	CGO_ENABLED=0 go build -trimpath -buildvcs=$(BUILDVCS) -o $(BIN) ./handler

# Run the job locally: the demo config's primary is unreachable on purpose,
# so the sync falls back to demo/fallback.db and loads demo/replica.db. The
# run's log goes to demo/sync.log (printed when the run fails): a newcomer
# reads the result and where to look, not the retries of a primary that is
# meant to be down.
demo: build
	@./$(BIN) demo-data --config demo/config.ini
	@./$(BIN) sync --config demo/config.ini 2>demo/sync.log || { cat demo/sync.log; echo "make demo: the sync failed; its log is above and in demo/sync.log"; exit 1; }
	@echo
	@echo "The demo worked. Its primary (port 1 in demo/config.ini) is unreachable on purpose, so"
	@echo "dbsync read the fallback demo/fallback.db and replaced table items in demo/replica.db."
	@echo "The run's log is in demo/sync.log. Look at the replica and the run history:"
	@echo "  sqlite3 -header demo/replica.db 'SELECT * FROM items LIMIT 5'"
	@echo "  ./$(BIN) history --config demo/config.ini"
	@echo "For your own databases: cp config.ini.example config.ini, fill it in, then"
	@echo "  ./$(BIN) check   and   ./$(BIN) sync"

# The real path, MySQL to MySQL over TLS, with no setup: two throwaway
# MariaDB servers from the installed binaries (test-deps installs them),
# started by the test suite's own helper (internal/mariadbtest): check, a
# replace, a change on the primary, a merge; then both servers stop.
demo-mysql: build test-deps
	@go run ./demo/mysql -handler ./$(BIN)

# The whole test suite. The tests start their own throwaway MariaDB servers
# from the installed binaries and render the status page in a headless
# chromium, and judge incremental copies with pt-table-sync; test-deps installs
# all three when they are missing.
test: test-deps vet
	go test -count=1 -timeout 30m ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...

test-deps:
	@if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ] || ! command -v mariadb-install-db >/dev/null 2>&1; then \
	  echo "MariaDB server binaries not found: installing mariadb-server with apt-get (tests start their own servers; none is used as a service)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends mariadb-server; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "chromium not found: installing Debian's chromium with apt-get (the status page tests render it headless; without it they fail)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium; \
	fi
	@if ! command -v pt-table-sync >/dev/null 2>&1; then \
	  echo "pt-table-sync not found: installing Debian's percona-toolkit with apt-get (the incremental tests use it as an independent judge of exactness; without it they fail)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends percona-toolkit; \
	fi

# Each fuzz target for FUZZTIME (go test runs one -fuzz target at a time).
FUZZTIME ?= 30s
fuzz: test-deps
	go test ./sync/mysqldb -run '^$$' -fuzz '^FuzzAppendTSVRow$$' -fuzztime $(FUZZTIME)
	go test ./sync -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime $(FUZZTIME)
	go test ./sync -run '^$$' -fuzz '^FuzzScanINI$$' -fuzztime $(FUZZTIME)
	go test ./handler -run '^$$' -fuzz '^FuzzDecodeInvocation$$' -fuzztime $(FUZZTIME)

# The benchmark of docs/performance.md: ROWS rows, REPEAT rounds. It
# starts its own servers; pandas joins when Debian's python3-pandas,
# python3-sqlalchemy and python3-pymysql are installed.
ROWS ?= 1000000
REPEAT ?= 3
bench: build test-deps
	go run ./bench -rows $(ROWS) -repeat $(REPEAT) $(BENCHFLAGS)

clean:
	rm -rf bin demo/*.db demo/*.db-journal demo/*.dbsync-lock demo/*.log
