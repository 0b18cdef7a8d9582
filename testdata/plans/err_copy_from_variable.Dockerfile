FROM alpine AS build
ARG SRC=build
FROM alpine
COPY --from=$SRC /x /x
