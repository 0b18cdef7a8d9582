FROM --platform=linux/arm64 alpine AS arm
ARG TARGETPLATFORM
RUN echo "stage platform is arm64, TARGETPLATFORM=$TARGETPLATFORM"

FROM --platform=$TARGETPLATFORM alpine
COPY --from=arm /etc/os-release /arm-os-release
