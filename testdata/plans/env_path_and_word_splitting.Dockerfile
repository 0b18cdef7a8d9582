FROM alpine
ARG PORTS="80 443/udp"
ARG DATA=/data
ENV PATH=/opt/app/bin:$PATH
EXPOSE $PORTS
VOLUME $DATA $DATA/logs
VOLUME ["$DATA/cache", "${DATA}2"]
RUN echo $PATH
