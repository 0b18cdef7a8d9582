#!/bin/sh
# Prints a greeting for its arguments.
echo "greetings: $*"
