ARG VERSION=3.19
ARG IMAGE=alpine:${VERSION}
FROM ${IMAGE} AS first
RUN echo "version is $VERSION"

FROM ${IMAGE}
ARG VERSION
RUN echo "version is $VERSION"
COPY --from=first /etc/os-release /first
