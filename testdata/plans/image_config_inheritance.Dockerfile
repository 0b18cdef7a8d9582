FROM example/base:1.0
RUN echo "in $PWD as $HOME"
ENTRYPOINT ["/entry"]
WORKDIR rel
USER root
RUN id
