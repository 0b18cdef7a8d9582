FROM alpine
ARG PORT=8080
LABEL org.opencontainers.image.title="My App" version=1.0
LABEL description="multi word" port=$PORT
EXPOSE 80 443/udp 8000-8002 $PORT
EXPOSE 53/UDP
VOLUME ["/data", "/logs"]
VOLUME /cache
STOPSIGNAL SIGINT
USER app:app
MAINTAINER Jane Doe <jane@example.com>
