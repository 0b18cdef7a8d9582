FROM busybox
ENV abc=hello
ENV abc=bye def=$abc
ENV ghi=$def
ENV quoted="a b" single='$abc' escaped=\$abc
RUN echo $abc $def $ghi
