FROM alpine AS Build
RUN echo build

FROM alpine AS final
RUN echo final
