#!/usr/bin/env bash
# Install ranpipe's build and test dependencies from Debian's packages (bookworm).
# Runs apt-get as root (directly, or through sudo when not root). Skips apt entirely
# when every package is already installed, so repeated `make` calls cost nothing.
set -euo pipefail

pkgs=(
  # toolchain
  build-essential cmake pkg-config git ca-certificates python3
  # libraries the code links
  libcurl4-openssl-dev libsqlite3-dev libyaml-dev libjansson-dev libcmark-gfm-dev
  libcmark-gfm-extensions-dev libxml2-dev libzip-dev libpoppler-glib-dev
  libmicrohttpd-dev libxxhash-dev
  # PDF test documents are drawn with cairo
  libcairo2-dev fonts-dejavu-core
  # tests: unit tests, fuzzing (clang's libFuzzer), peers of the benchmarks
  libcmocka-dev clang libclang-rt-14-dev pandoc poppler-utils qpdf
  # tests: the export files are validated against docs/schemas/ (cli_export)
  python3-jsonschema
  # tests: the /metrics exposition is validated by the real Prometheus parsers,
  # promtool (`promtool check metrics`) and prometheus_client's (tests/tools/check_metrics.sh)
  prometheus python3-prometheus-client
  # tests: report.html is opened, printed and screenshotted in headless Chromium
  # (cli_report fails without it); a CJK font so the screenshot shows the
  # fixture's Chinese text instead of empty boxes
  chromium fonts-wqy-microhei
)

missing=()
# npm fetches llama.cpp's source (node-llama-cpp); keep a Node.js that is already there.
command -v npm >/dev/null || pkgs+=(npm)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
