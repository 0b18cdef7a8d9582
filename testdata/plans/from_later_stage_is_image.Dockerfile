FROM later AS first
RUN echo first

FROM alpine AS later
RUN echo later

FROM first
