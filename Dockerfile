# riskd — container image. Build:  docker build -t riskd .   (or podman build)
# Run:    docker run -e JWT_SECRET=... -p 5000:5000 riskd
# Configuration is by environment only (RISKD_*; `riskd help serve` lists them).

# ---- build stage: the -dev packages (the same list `make deps` installs) ----
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY tools/deps.sh tools/deps.sh
RUN sh tools/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY engine engine
COPY scripts scripts
COPY rules rules
COPY web web
# The console's chart library (web/package.json): taken from the build
# context when `make deps` put it in web/vendor/ there, else from npm.
RUN [ -f web/vendor/chart.umd.min.js ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm \
      && npm ci --prefix web --no-audit --no-fund --loglevel=error && mkdir -p web/vendor \
      && cp web/node_modules/chart.js/dist/chart.umd.min.js web/vendor/; } && rm -rf web/node_modules
# `make all` builds the binary and the Lua module and trains the default
# login model (seeded, the same on every build); the phishing model is in
# the repository (trained on real mail, docs/phishing.md).
RUN make -j"$(nproc)" all

# ---- runtime stage: the shared libraries only ----
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      liblua5.4-0 lua-cjson libevent-2.1-7 libevent-pthreads-2.1-7 libevent-openssl-2.1-7 libsqlite3-0 libmongoc-1.0-0 \
      libbson-1.0-0 libjwt0 libargon2-1 libmaxminddb0 libjansson4 libssl3 libwslay1 ca-certificates \
      libgmime-3.0-0 libpsl5 libidn2-0 libxml2 publicsuffix libarchive13 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
           /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
 && useradd --system --uid 10001 --home-dir /opt/riskd --no-create-home --shell /usr/sbin/nologin riskd
COPY --from=build /src/build/riskd /usr/local/bin/riskd
WORKDIR /opt/riskd
COPY --chown=riskd:riskd scripts scripts
COPY --chown=riskd:riskd rules rules
COPY --chown=riskd:riskd intel intel
COPY --from=build --chown=riskd:riskd /src/web web
COPY --from=build --chown=riskd:riskd /src/models/default.model models/default.model
COPY --chown=riskd:riskd models/phishing.model models/phishing.model
RUN mkdir -p data && chown riskd:riskd data
ENV RISKD_HOST=0.0.0.0 \
    RISKD_PORT=5000 \
    RISKD_SCRIPTS=/opt/riskd/scripts \
    RISKD_RULES=/opt/riskd/rules \
    RISKD_MODELS=/opt/riskd/models \
    RISKD_INTEL=/opt/riskd/intel \
    RISKD_WEB=/opt/riskd/web \
    RISKD_DB=sqlite:/opt/riskd/data/riskd.db \
    RISKD_STATE=/opt/riskd/data \
    MONGOC_DISABLE_SHM=1
# Mount your own rules or scripts over these and edit them live; data holds
# the SQLite store; models the trained models (retraining writes there);
# intel the IP lists, patterns and breached-password index.
VOLUME ["/opt/riskd/data", "/opt/riskd/rules", "/opt/riskd/scripts", "/opt/riskd/models", "/opt/riskd/intel"]
USER riskd
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 CMD ["riskd", "health"]
ENTRYPOINT ["riskd"]
CMD ["serve", "--host", "0.0.0.0"]
