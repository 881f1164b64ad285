# Build a static binary (no cgo: the embedded SQLite is pure Go).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/risksync ./cmd/risksync

# Distroless static: no shell, no package manager, a non-root user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/risksync /usr/local/bin/risksync
# Mount the configuration here; set server.listen: 0.0.0.0:8080 in it.
ENV RISKSYNC_CONFIG=/etc/risksync/risksync.yaml
# The embedded SQLite default (sqlite://risksync.db) lives in the working
# directory: mount a volume here, or point RISKSYNC_DATABASE_URL at PostgreSQL.
WORKDIR /var/lib/risksync
VOLUME /var/lib/risksync
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/risksync"]
CMD ["serve"]
