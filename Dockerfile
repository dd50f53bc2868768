# claude-nvidia-proxy in a container (docs/deploy.md#container).
#   docker build -t claude-nvidia-proxy .
#   docker run --rm -p 3001:3001 --stop-timeout 45 -e PROVIDER_API_KEYS=nvapi-... -e SERVER_API_KEY=... claude-nvidia-proxy

# ---- build: the -dev packages and the compiler, thrown away afterwards ----
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config libcpp-httplib-dev libsimdjson-dev rapidjson-dev \
      libssl-dev zlib1g-dev libbrotli-dev prometheus-cpp-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
      -DMSGBRIDGE_BUILD_TESTS=OFF -DMSGBRIDGE_BUILD_EXAMPLES=OFF -DMSGBRIDGE_INSTALL=OFF \
 && cmake --build build -j"$(nproc)" --target claude-nvidia-proxy \
 && strip build/server/claude-nvidia-proxy

# ---- runtime: the shared libraries the binary links, and the CA store ----
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpp-httplib0.11 libsimdjson14 libprometheus-cpp-core1.0 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin claude-nvidia-proxy
COPY --from=build /src/build/server/claude-nvidia-proxy /usr/bin/claude-nvidia-proxy
COPY config.example.json /usr/share/doc/claude-nvidia-proxy/examples/config.example.json
# config.json is read from here when mounted (-v ./config.json:/etc/claude-nvidia-proxy/config.json:ro);
# without one the environment supplies everything.
WORKDIR /etc/claude-nvidia-proxy
USER claude-nvidia-proxy
# Every interface of the container; the published port decides who reaches it.
ENV ADDR=0.0.0.0:3001
EXPOSE 3001
# bash's /dev/tcp rather than curl: the runtime image gets no HTTP client.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3001 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
# SIGTERM (docker stop) lets running streams end for SHUTDOWN_GRACE_SECONDS (30):
# give docker stop a longer --stop-timeout than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/claude-nvidia-proxy"]
