FROM busybox
ARG MODE=arg-default
ENV MODE=from-env
RUN echo $MODE
ENV OTHER=$MODE
