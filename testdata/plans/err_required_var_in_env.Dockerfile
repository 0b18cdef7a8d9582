FROM alpine
RUN echo ok
ENV A="${MISSING:?is required}"
