ARG PLATFORM
FROM --platform=$PLATFORM alpine
