FROM alpine AS with-check
HEALTHCHECK --interval=30s --timeout=3s --start-period=1m30s --retries=3 CMD curl -f http://localhost/ || exit 1

FROM with-check AS exec-form
HEALTHCHECK --interval=500ms CMD ["curl", "-f", "http://localhost/"]

FROM exec-form
HEALTHCHECK NONE
