# syntax=docker/dockerfile:1
#
# consort node image: a static binary on Alpine, run as a non-root user.
#
#   docker build -t consort:local .
#   docker run --rm -v "$PWD/testnet/node0:/data" consort:local
#
# The node home (config/, data/, keyring/) is the volume /data; the default
# command runs `consort start --home /data`. Alpine rather than distroless so
# the HEALTHCHECK has wget and the Kubernetes init container has a shell.
# Checked without a Docker engine by tools/manifests (make manifests).

FROM golang:1.26 AS build
WORKDIR /src
# Module downloads first, so a source change reuses this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/consort ./cmd/consort

FROM alpine:3.22
LABEL org.opencontainers.image.title="consort" \
      org.opencontainers.image.description="consort permissioned UTXO ledger node (CometBFT in-process)" \
      org.opencontainers.image.source="https://github.com/consort-ledger/consort"
# A fixed uid/gid, so volume ownership can be prepared on the host
# (chown -R 10001:10001 testnet) and Kubernetes can set runAsUser/fsGroup.
RUN addgroup -S -g 10001 consort \
 && adduser -S -D -H -u 10001 -G consort -h /data -s /sbin/nologin consort \
 && mkdir -p /data \
 && chown consort:consort /data \
 && chmod 0700 /data
COPY --from=build /out/consort /usr/local/bin/consort
USER 10001:10001
# The default --home of every consort command run in the container.
ENV CONSORT_HOME=/data
WORKDIR /data
VOLUME ["/data"]
# 26656 p2p, 26657 CometBFT RPC, 26660 Prometheus /metrics, /healthz, /readyz.
# The node listens on loopback unless its config or flags say otherwise:
# pass --p2p-laddr tcp://0.0.0.0:26656 --rpc-laddr tcp://0.0.0.0:26657
# --metrics-laddr 0.0.0.0:26660 (as scripts/docker/compose.yml does).
EXPOSE 26656 26657 26660
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:26660/healthz"]
ENTRYPOINT ["consort"]
CMD ["start", "--home", "/data"]
