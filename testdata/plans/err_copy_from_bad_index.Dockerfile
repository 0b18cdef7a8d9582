FROM alpine
COPY --from=3 /x /x
