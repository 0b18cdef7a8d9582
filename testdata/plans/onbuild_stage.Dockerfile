FROM alpine AS assets
RUN echo asset > /asset

FROM alpine AS base
ONBUILD RUN echo triggered
ONBUILD COPY --from=assets /asset /asset
ONBUILD ENV FROM_TRIGGER=1
RUN echo base

FROM base AS child
RUN echo child

FROM child
RUN echo grandchild
