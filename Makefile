# riskd — see README.md. `make run` and `make test` are all the set-up a fresh
# Debian 12 machine needs (as root): both install missing packages first.

CC      ?= cc
PKGS    := lua5.4 libevent libevent_pthreads libevent_openssl sqlite3 libmongoc-1.0 libmaxminddb jansson libssl libcrypto gmime-3.0 libpsl libidn2 libxml-2.0 libarchive
BUILD   := build
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# The pure cores are compiled without Lua's include path: one that includes
# lua.h does not build.
CORE_PKG_CFLAGS = $(shell pkg-config --cflags $(filter-out lua5.4,$(PKGS)) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -largon2 -ljwt -lwslay

CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
DEFS    := -D_GNU_SOURCE
ALL_CFLAGS = $(WARN) $(DEFS) $(CFLAGS) -fPIC -pthread $(PKG_CFLAGS) -iquote engine

# Pure cores (no Lua), Lua bindings and the VM, and the server.
CORE    := log apikey deliver binfile netaddr vm_snapshot watch metrics config iforest roc csv store store_sqlite store_mem store_mongo mongo_init mongo_watch store_writer task features geo password jwt json_check json_out models intel_ipset intel_pwindex intel rt_hub webfile rates rates_sync phish phish_norm phish_mime phish_html phish_url textmodel phish_model phish_mailstore phish_archive luapat rt_session lockout addrcount watchdog calib xacct store_live store_sums
LUA     := vm sandbox json_lua profile_lua l_riskd l_log l_net l_engine l_iforest l_store l_mongo l_features l_geo l_auth l_json l_models l_intel l_web l_rates l_phishing l_parallel l_strings l_calib l_xacct
SERVER  := http http_admit rt_stream rt_ws server cmd_iforest cmd_run cmd_user cmd_key cmd_intel cmd_health
MOD_OBJ := $(addprefix $(BUILD)/,$(addsuffix .o,$(CORE) $(LUA)))
CORE_OBJS = $(foreach d,$(BUILD) $(BUILD)/asan $(BUILD)/fuzz,$(addprefix $(d)/,$(addsuffix .o,$(CORE))))
$(CORE_OBJS): PKG_CFLAGS = $(CORE_PKG_CFLAGS)
BIN_OBJ := $(MOD_OBJ) $(addprefix $(BUILD)/,$(addsuffix .o,$(SERVER) main))

TESTS   := test_log test_netaddr test_vm_snapshot test_watch test_metrics test_config test_vm test_iforest test_csv test_store test_store_mem test_store_writer test_features test_sandbox test_geo test_password test_jwt test_json_check test_intel test_rt_hub test_webfile test_rates test_phish test_luapat test_watchdog test_calib test_xacct test_deliver test_store_live

.PHONY: all deps deps-test deps-bench run test test-c test-spec test-e2e bench coverage clean fuzz container-test install phishing-model

all: $(BUILD)/riskd $(BUILD)/riskd.so models/default.model

# The console's front-end packages (web/package.json: the chart library),
# from npm at the versions of web/package-lock.json, copied to web/vendor/
# where the console loads them from this server (no CDN at run time).
# Debian's node trusts its own CA list; the system's store may hold a proxy's CA too.
WEB_VENDOR := web/vendor/chart.umd.min.js
$(WEB_VENDOR): web/package.json web/package-lock.json
	@NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt npm ci --prefix web --no-audit --no-fund --loglevel=error
	@mkdir -p web/vendor
	cp web/node_modules/chart.js/dist/chart.umd.min.js $@

# The login model, when there is none: trained on seeded synthetic traffic
# (scripts/cli/train.lua), so the same on every machine. `riskd train` makes
# others; models/ACTIVE names the live one when it is not this.
models/default.model: | $(BUILD)/riskd
	@mkdir -p models
	./$(BUILD)/riskd train --users 1000 --days 30 --seed 42 --output $@

# The phishing text model is in the repository, trained on real mail by
# `make phishing-model` (docs/phishing.md): a fresh clone needs no corpus.
# CORPUS names another one (a manifest.jsonl beside the messages).
CORPUS ?= ../shared/mail-corpus
phishing-model: $(BUILD)/riskd
	RISKD_BIN=./$(BUILD)/riskd sh tools/phishing_model.sh $(CORPUS) models/phishing.model

deps:
	@sh tools/deps.sh build web
	@$(MAKE) --no-print-directory $(WEB_VENDOR)
deps-test:
	@sh tools/deps.sh test web
	@$(MAKE) --no-print-directory $(WEB_VENDOR)
	@# the browser tests' driver (playwright-core; the browser is Debian's chromium)
	@# (Debian's node trusts its own CA list; the system's store may hold a proxy's CA too)
	@[ -d tests/browser/node_modules/playwright-core ] || NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
	    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	@# the OpenAPI linter (@redocly/cli) that tests/e2e/test_openapi.py runs
	@[ -x tests/openapi/node_modules/.bin/redocly ] || NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
	    npm ci --prefix tests/openapi --no-audit --no-fund --loglevel=error
deps-bench:
	@sh tools/deps.sh bench

$(BUILD):
	@mkdir -p $(BUILD) $(BUILD)/asan $(BUILD)/cov

$(BUILD)/%.o: engine/%.c engine/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/riskd: $(BIN_OBJ) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm
	@# ./riskd is the optimised build's, whatever other builds (coverage, ASan) are made
	@if [ "$(BUILD)" = build ]; then ln -sf build/riskd riskd; fi

# The Lua module for busted: the same objects; Lua's own symbols come from
# the interpreter that loads it.
$(BUILD)/riskd.so: $(MOD_OBJ)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $^ $(shell pkg-config --libs libevent libevent_openssl sqlite3 libmongoc-1.0 libmaxminddb jansson libssl libcrypto gmime-3.0 libpsl libidn2 libxml-2.0 libarchive) -largon2 -ljwt -lm

run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/secret.sh
	MONGOC_DISABLE_SHM=1 ./$(BUILD)/riskd serve

# ---- tests ---------------------------------------------------------------
# Every suite prints TAP; tests/run.sh sums them into "N passed, N failed".

TEST_LIBS = $(PKG_LIBS) -lcmocka -lm
ASAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD)/%.t: tests/%.c $(MOD_OBJ) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(MOD_OBJ) $(TEST_LIBS)

$(BUILD)/asan/%.o: engine/%.c engine/*.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(ASAN) -O1 -c $< -o $@

$(BUILD)/asan/riskd: $(addprefix $(BUILD)/asan/,$(addsuffix .o,$(CORE) $(LUA) $(SERVER) main))
	$(CC) $(ALL_CFLAGS) $(ASAN) -O1 -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/asan/%.t: tests/%.c $(addprefix $(BUILD)/asan/,$(addsuffix .o,$(CORE) $(LUA))) | $(BUILD)
	$(CC) $(ALL_CFLAGS) $(ASAN) -O1 -o $@ $^ $(TEST_LIBS)

TEST_BINS = all $(addprefix $(BUILD)/,$(addsuffix .t,$(TESTS))) \
	    $(addprefix $(BUILD)/asan/,$(addsuffix .t,$(TESTS))) $(BUILD)/asan/riskd \
	    $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))

test: deps-test
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@sh tests/run.sh $(TESTS)

test-c test-spec test-e2e: deps-test
	@$(MAKE) --no-print-directory $(TEST_BINS)
	@sh tests/run.sh --only $(subst test-,,$@) $(TESTS)

# ---- fuzzing (libFuzzer, clang) --------------------------------------------
# `make fuzz` runs each target for FUZZ_SECONDS; what it finds that crashes
# is written to tests/fuzz/corpus/<target>/ to be kept as a regression input.
# `make test` runs tests/fuzz/smoke.sh: every kept input, then a few seconds.

FUZZ_TARGETS := fuzz_request fuzz_model fuzz_mime
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = $(WARN) $(DEFS) -O1 -g -fPIC -pthread $(PKG_CFLAGS) -iquote engine \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJ = $(addprefix $(BUILD)/fuzz/,$(addsuffix .o,$(CORE) $(LUA)))
.SECONDARY: $(FUZZ_OBJ)   # kept between builds, not deleted as intermediates

$(BUILD)/fuzz/%.o: engine/%.c engine/*.h
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

fuzz: deps-test
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	    n=$${t#fuzz_}; mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    echo "== $$t for $(FUZZ_SECONDS) s"; \
	    dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
	    ./$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 $$dict \
	        -artifact_prefix=tests/fuzz/corpus/$$n/crash- $(BUILD)/fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# ---- benchmark -----------------------------------------------------------

$(BUILD)/bare: bench/bare.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(PKG_LIBS)

$(BUILD)/store_bench: bench/store_bench.c $(MOD_OBJ) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(MOD_OBJ) $(PKG_LIBS) -lm

$(BUILD)/intel_bench: bench/intel_bench.c $(MOD_OBJ) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(MOD_OBJ) $(PKG_LIBS) -lm

$(BUILD)/ws_latency: bench/ws_latency.c | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lwslay

bench: deps-bench
	@$(MAKE) --no-print-directory all $(BUILD)/bare $(BUILD)/store_bench $(BUILD)/intel_bench $(BUILD)/ws_latency
	@{ sh bench/run.sh && ./$(BUILD)/store_bench && ./$(BUILD)/intel_bench && /usr/bin/python3 bench/iforest.py; } \
	    | tee $(BUILD)/bench.out
	@sh bench/report.sh $(BUILD)/bench.out > docs/benchmarks.md
	@echo "wrote docs/benchmarks.md"

# ---- install ---------------------------------------------------------------
# FHS places under PREFIX (default /usr/local); rules and the service's
# settings under SYSCONFDIR (default /etc), never overwriting edited rules.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib/riskd
DATADIR    := $(PREFIX)/share/riskd
SUBST      = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(DATADIR)/intel \
	    $(DESTDIR)$(SYSCONFDIR)/riskd $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/riskd $(DESTDIR)$(BINDIR)/riskd
	install -m 0644 $(BUILD)/riskd.so $(DESTDIR)$(LIBDIR)/riskd.so
	rm -rf $(DESTDIR)$(DATADIR)/scripts $(DESTDIR)$(DATADIR)/rules
	cp -R scripts rules $(DESTDIR)$(DATADIR)/
	if [ -d web ]; then rm -rf $(DESTDIR)$(DATADIR)/web && cp -R web $(DESTDIR)$(DATADIR)/ && \
	    rm -rf $(DESTDIR)$(DATADIR)/web/node_modules; fi
	install -m 0644 models/default.model $(DESTDIR)$(DATADIR)/models/default.model
	install -m 0644 models/phishing.model $(DESTDIR)$(DATADIR)/models/phishing.model
	install -m 0644 intel/*.patterns intel/README.md $(DESTDIR)$(DATADIR)/intel/
	[ -d $(DESTDIR)$(SYSCONFDIR)/riskd/rules ] || cp -R rules $(DESTDIR)$(SYSCONFDIR)/riskd/rules
	$(SUBST) packaging/riskd.env.example > $(DESTDIR)$(SYSCONFDIR)/riskd/riskd.env.example
	$(SUBST) packaging/riskd.service.in > $(DESTDIR)$(UNITDIR)/riskd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/riskd.service $(DESTDIR)$(SYSCONFDIR)/riskd/riskd.env.example

# ---- the container image ---------------------------------------------------
# Builds the image from the Dockerfile with podman and checks it from the
# host (tools/container-test.sh: no Docker daemon, no registry).
container-test:
	@sh tools/container-test.sh

# ---- coverage ------------------------------------------------------------

coverage: deps-test
	@sh tests/coverage.sh

clean:
	rm -rf $(BUILD) riskd
