FROM golang:1.22 AS build
RUN mkdir /out

FROM golang:1.22
WORKDIR /src
ARG CACHE_ID=gomod
RUN --mount=type=cache,id=$CACHE_ID,target=/go/pkg/mod,sharing=locked \
    --mount=type=bind,from=build,source=/out,target=out \
    --mount=type=secret,id=token,env=TOKEN \
    --mount=type=tmpfs,target=/tmp \
    --mount=type=ssh \
    --network=none \
    go build ./... && echo $TOKEN
RUN --security=insecure --mount=type=cache,target=.cache,uid=1000,mode=0700 true
