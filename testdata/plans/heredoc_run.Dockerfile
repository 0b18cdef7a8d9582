FROM alpine
RUN <<EOF
echo one
echo two
EOF
RUN <<-EOT
	echo tabs removed
	EOT
RUN <<EOF
#!/bin/sh
echo script
EOF
RUN cat <<EOF > /greeting
hello $USER
EOF
RUN <<A <<B sh
echo a
A
echo b
B
