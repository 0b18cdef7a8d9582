FROM alpine
COPY --chmod=999 a /a
