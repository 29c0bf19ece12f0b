# tokusim: every target installs what it needs (npm ci) on a fresh machine.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
STAMP := node_modules/.install-stamp

.PHONY: all build demo test typecheck bench bench-compare docs clean distclean teach chromium

all: build

# Reinstall when node_modules is missing or older than the lock file.
$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(STAMP)

build: $(STAMP)
	$(NODE_BIN)/tsc -p tsconfig.json
	node dist/tools/teach/prebuild.js

typecheck: $(STAMP)
	$(NODE_BIN)/tsc -p tsconfig.test.json

# The page tests (test/teach/page.test.ts) drive Debian's Chromium through playwright-core.
chromium:
	@command -v chromium >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

test: build typecheck chromium
	$(NODE_BIN)/vitest run

# The explorable teaching page: one self-contained HTML file (open it from file://).
teach: build
	node dist/tools/tokusim.js teach --html teach.html --force

demo: build
	node dist/tools/demo.js

bench: build
	node dist/tools/bench/run-all.js

# The benchmarks of BASE (a git ref) and of the working tree, interleaved in one run, side by
# side: make bench-compare BASE=main [ROUNDS=5] [BENCH_SCALE=1] [ONLY=printer,checkpoint,durable,recovery]
bench-compare: build
	node dist/tools/bench/compare.js --base '$(BASE)' $(if $(ROUNDS),--rounds '$(ROUNDS)') $(if $(ONLY),--only '$(ONLY)')

# API reference of the root export (src/index.ts) in docs/api/; any typedoc warning fails it,
# including an export or public method without TSDoc (typedoc.json validation.notDocumented).
docs: $(STAMP)
	$(NODE_BIN)/typedoc --treatWarningsAsErrors

clean:
	rm -rf dist docs/api .test-results.json teach.html test-artifacts

distclean: clean
	rm -rf node_modules demo-data bench-data
