FROM alpine
RUN wget -q http://example.com/
ARG HTTP_PROXY
RUN wget -q http://example.com/
