FROM alpine AS base-amd64
RUN echo amd64

FROM alpine AS base-arm64
RUN echo arm64

FROM base-${TARGETARCH}
RUN echo final
