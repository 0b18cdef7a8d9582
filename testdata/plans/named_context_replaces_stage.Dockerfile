FROM alpine AS deps
RUN echo this stage is replaced

FROM node:20
COPY --from=deps /node_modules /app/node_modules
