FROM alpine AS first
COPY --from=later /x /x

FROM alpine AS later
RUN echo later
