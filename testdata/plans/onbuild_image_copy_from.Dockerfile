FROM alpine AS assets
RUN echo a > /a

FROM alpine AS unused
RUN echo never built

FROM example/onbuild
RUN ls /a
