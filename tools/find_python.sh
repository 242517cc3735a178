#!/bin/sh
# The interpreter for the main .venv: the newest Python of Lambda's supported runtimes (3.14, 3.13,
# 3.12) that this machine has, on PATH as pythonX.Y or installed by pyenv; else python3.
for version in 3.14 3.13 3.12; do
    for candidate in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import venv" >/dev/null 2>&1; then
            command -v "$candidate"
            exit 0
        fi
    done
done
echo python3
