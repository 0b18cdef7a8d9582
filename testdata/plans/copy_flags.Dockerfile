FROM alpine
ARG UID=1000
COPY --chown=$UID:$UID --chmod=755 bin/ /usr/local/bin/
COPY --link --exclude=*.md --exclude=docs docs/ /docs/
COPY --parents src/./lib/*.c /build/
COPY --chmod=u=rwx,go=rx script.sh /script.sh
COPY ["file with spaces.txt", "/dest dir/"]
