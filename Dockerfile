# switchboard container image: build with Debian's packages, ship the binary, the demo page
# and the runtime libraries only.
#
#   docker build -t switchboard .          (or: podman build --format docker -t switchboard .)
#   docker run -p 8080:8080 -v switchboard-data:/var/lib/switchboard switchboard
#
# No secret is baked in: TURN_SECRET, ADMIN_TOKEN and the like come from the environment
# at run time. See docs/deploy.md.

# ---- builder: compiles the release preset (no tests, no benchmark) ----
FROM debian:bookworm-slim AS builder
# The -dev packages the build needs, nothing else. Boost is header-only here except for the
# Boost::system CMake target, hence libboost-system1.81-dev instead of libboost1.81-all-dev.
# libsystemd-dev: sd_notify for Type=notify under systemd (a no-op in a container).
# libhiredis-dev: the Redis client (cluster mode, not yet wired in: the daemon binary does not
# link libhiredis yet, so the runtime stage needs no libhiredis0.14 until it does).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libboost-system1.81-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev \
      libsodium-dev libspdlog-dev libfmt-dev libssl-dev libpq-dev libsystemd-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY cmake cmake
COPY include include
COPY src src
COPY db db
RUN cmake --preset release -DSWITCHBOARD_BUILD_BENCH=OFF >/dev/null \
 && cmake --build --preset release --target switchboard \
 && strip build/release/switchboard

# ---- runtime ----
FROM debian:bookworm-slim
# Exactly the shared libraries the binary needs (readelf -d: NEEDED), by Debian package.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libsqlite3-0 libspdlog1.10 libfmt9 libsodium23 libpq5 libssl3 libsystemd0 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/switchboard \
      --shell /usr/sbin/nologin switchboard \
 && mkdir -p /var/lib/switchboard \
 && chown switchboard:switchboard /var/lib/switchboard
COPY --from=builder /src/build/release/switchboard /usr/local/bin/switchboard
COPY web /usr/share/switchboard/web

# Listen on every interface inside the container; publish the port to choose who reaches it.
ENV SERVER_HOST=0.0.0.0 \
    SERVER_PORT=8080 \
    DB_PATH=/var/lib/switchboard/switchboard.db \
    WEB_ROOT=/usr/share/switchboard/web
VOLUME /var/lib/switchboard
WORKDIR /var/lib/switchboard
USER switchboard:switchboard
EXPOSE 8080
# SIGTERM: stop accepting, close WebSockets with 1001, finish in-flight work, exit 0.
STOPSIGNAL SIGTERM
# --probe GETs /healthz from the address the same settings name (0.0.0.0 -> 127.0.0.1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["switchboard", "--probe"]
ENTRYPOINT ["switchboard"]
