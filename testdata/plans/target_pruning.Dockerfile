FROM alpine AS base
RUN echo base

FROM base AS test
RUN echo test

FROM base AS build
RUN echo build

FROM build AS release
COPY --from=test /x /x
