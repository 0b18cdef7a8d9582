FROM alpine AS deps
RUN echo deps > /deps

FROM alpine AS assets
RUN echo assets > /assets

FROM deps AS build
COPY --from=assets /assets /assets
RUN echo build

FROM alpine AS lint
RUN --mount=type=bind,from=deps,source=/deps,target=/mnt/deps cat /mnt/deps

FROM scratch
COPY --from=build /deps /deps
COPY --from=lint /etc/os-release /lint
