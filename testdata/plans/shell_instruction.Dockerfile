FROM debian:bookworm
RUN echo default shell
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN echo "bash now" | cat
CMD echo cmd in bash
ENTRYPOINT exec /app
RUN ["echo", "exec form ignores SHELL"]
