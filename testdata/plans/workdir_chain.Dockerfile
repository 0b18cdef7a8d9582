FROM alpine
RUN pwd
WORKDIR /app
WORKDIR src
WORKDIR ../lib/./x/
COPY a.txt .
COPY b.txt sub/
COPY c.txt /abs
RUN pwd
WORKDIR /
RUN pwd
