FROM alpine
RUN echo fine

FROM example/broken
RUN echo never
