FROM busybox AS base
CMD ["sh"]

FROM base AS entry-only
ENTRYPOINT ["/bin/app"]

FROM base AS cmd-then-entry
CMD ["--help"]
ENTRYPOINT ["/bin/app"]

FROM base AS entry-then-cmd
ENTRYPOINT /bin/app --serve
CMD ["--port", "80"]

FROM scratch
COPY --from=entry-only / /a
COPY --from=cmd-then-entry / /b
COPY --from=entry-then-cmd / /c
