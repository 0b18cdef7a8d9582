FROM busybox AS first
RUN echo one > /one

FROM alpine AS second
COPY --from=0 /one /one
COPY --from=nginx:1.25 /etc/nginx/nginx.conf /etc/nginx.conf
COPY --from=assets /logo.png /srv/logo.png
COPY --from=scratch / /empty/
