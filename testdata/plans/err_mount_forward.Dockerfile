FROM alpine AS app
RUN --mount=from=tools,target=/tools /tools/run

FROM alpine AS tools
RUN echo tools
