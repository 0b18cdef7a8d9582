# escape=`
FROM alpine
ENV WINPATH=C:\app `
    OTHER=`$literal
RUN echo %WINPATH% `
    && echo done
COPY a\b.txt /c\d/
