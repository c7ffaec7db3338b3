# chromium.sh - headless Chromium for the CLI tests that check report.html
# (sourced after tap.sh, not run).
#
#   need_chromium        bails out (the test fails) when Chromium is missing
#   browse FILE NAME     loads FILE; the DOM goes to $T/NAME.dom, the log to $T/NAME.log
#   problems NAME        prints what went wrong in that page (nothing when clean)
#   clean NAME           succeeds when the page had no problem
#   fails CMD...         succeeds when CMD fails
CHROMIUM=${RANPIPE_CHROMIUM:-}
case $CHROMIUM in '' | *NOTFOUND) CHROMIUM=$(command -v chromium || command -v chromium-browser || true) ;; esac

need_chromium() {
  if [ -z "$CHROMIUM" ] || ! "$CHROMIUM" --version >/dev/null 2>&1; then
    echo "Bail out! Chromium is missing (Debian: apt-get install chromium; scripts/install-deps.sh installs it); the report is checked in a real browser"
    exit 1
  fi
}

# browse FILE NAME [FLAGS...]: loads FILE in headless Chromium; the DOM after
# load goes to $T/NAME.dom, the browser's log to $T/NAME.log. --no-sandbox
# because tests run as root or in containers without user namespaces.
browse() {
  local file=$1 name=$2
  shift 2
  rm -rf "$T/profile"
  timeout 90 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$T/profile" \
    --no-first-run --no-default-browser-check --disable-extensions --disable-sync \
    --disable-background-networking --disable-component-update --mute-audio \
    --enable-logging=stderr --v=0 "$@" --dump-dom "file://$file" >"$T/$name.dom" 2>"$T/$name.log"
}

# problems NAME: prints what went wrong in the page loaded as NAME: each
# console message (the page itself logs nothing, so any is a fault: errors,
# uncaught exceptions, CSP violations), an error the page's script noted, or
# the script not having run. Prints nothing for a clean page.
problems() {
  local name=$1
  grep -E ':CONSOLE[(:]|Uncaught' "$T/$name.log" | sed 's/^/console: /'
  grep -o 'data-js-error="[^"]*"' "$T/$name.dom" | sed 's/^/page: /'
  grep -q '<html[^>]* data-js="ready"' "$T/$name.dom" || echo "page: its script did not run"
  grep -q '</html>' "$T/$name.dom" || echo "browser: no DOM came back"
}

fails() { ! "$@"; }

clean() {
  local p
  p=$(problems "$1")
  [ -z "$p" ] || { echo "$p" | head -20; return 1; }
}

