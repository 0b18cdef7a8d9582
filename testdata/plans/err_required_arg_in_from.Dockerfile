ARG TAG
FROM alpine:${TAG:?required}
RUN echo never
