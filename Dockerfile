# Build stage: a static rkv binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rkv ./cmd/rkv

# Runtime stage: no shell, no package manager, not root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rkv /usr/local/bin/rkv
VOLUME /data
# 6379: clients (RESP). 16379: the Raft bus (client port + 10000).
EXPOSE 6379 16379
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/rkv", "--dir", "/data"]
CMD ["--addr", "0.0.0.0:6379"]
