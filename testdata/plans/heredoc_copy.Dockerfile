FROM alpine
ARG NAME=world
COPY <<EOF /etc/greeting
hello $NAME "quoted"
EOF
COPY <<"EOF" /etc/literal
hello $NAME
EOF
COPY <<one <<two /etc/
first
one
second
two
