FROM alpine
COPY https://example.com/file /file
