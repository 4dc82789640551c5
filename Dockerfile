# One image holds both binaries; docker-compose.yml picks one with `command:`.
#
#   docker build -t coursehook .
#   docker run --rm coursehook                                   # the webhook server
#   docker run --rm coursehook /usr/local/bin/coursehook-worker  # the worker
#
# Everything is pure Go (CGO_ENABLED=0), so the binaries are static and the
# runtime image needs no libc: distroless/static, which has no shell either.

ARG GO_VERSION=1.26.8

# BuildKit is required (it is what `docker compose build` uses). The build stage
# runs on the builder's own platform and cross-compiles, so an arm64 laptop
# builds an amd64 image without emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-trixie AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src

# Modules first, as their own layer: it is rebuilt only when go.mod or go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/coursehook-worker ./worker && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/coursehook-starter ./starter && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/coursehookctl ./ctl

# The data folder is made here because the runtime image has no shell to run
# mkdir. Docker seeds an empty named volume from the image, ownership included,
# so a volume mounted at /data starts out writable by the non-root user.
RUN mkdir -p /data/outbox /data/dead-letter && chmod -R 0750 /data

FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/coursehook-worker /out/coursehook-starter /out/coursehookctl /usr/local/bin/
COPY --from=build --chown=65532:65532 /data /data
# The relative defaults (.data/coursehook.db, .data/outbox) land in /data too.
WORKDIR /data
# 65532 is distroless's "nonroot"; numeric so Kubernetes' runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
CMD ["/usr/local/bin/coursehook-starter"]
