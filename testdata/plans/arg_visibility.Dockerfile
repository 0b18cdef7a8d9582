FROM busybox
RUN echo "before: $USER_NAME"
ENV BEFORE=${USER_NAME:-unset}
ARG USER_NAME=guest
RUN echo "after: $USER_NAME"
ENV AFTER=${USER_NAME:-unset}
