# Build stage: a static rkv binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rkv ./cmd/rkv
# The data directory is made here, as the runtime image has no shell to
# make it: copied with --chown below, it belongs to the user rkv runs as,
# and so does a named volume Docker seeds from it.
RUN mkdir -p /out/data

# Runtime stage: no shell, no package manager, not root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rkv /usr/local/bin/rkv
# 65532 is distroless's nonroot user and group.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
# 6379: clients (RESP). 16379: the Raft bus (client port + 10000).
# 9121: Prometheus /metrics, /livez and /readyz.
EXPOSE 6379 16379 9121
# Protected mode stays on: listening on every interface, the node starts
# only with a password, from $RKV_REQUIREPASS (docker run -e) or
# --requirepass-file (a mounted secret). On a network you trust, append
# --protected-mode=no instead. Arguments given to docker run come after
# these, and a flag given twice takes its last value.
ENTRYPOINT ["/usr/local/bin/rkv", "--dir=/data", "--addr=0.0.0.0:6379", "--metrics-addr=0.0.0.0:9121", "--protected-mode=yes"]
