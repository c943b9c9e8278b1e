#!/usr/bin/env bash
# The report's screenshot in the README (docs/img/report.png): write the report of a store and
# photograph its top (findings, contents, first charts) in headless Chromium.
#   scripts/report_screenshot.sh STORE [OUT.png]
set -euo pipefail
store=${1:?usage: scripts/report_screenshot.sh STORE [OUT.png]}
out=${2:-docs/img/report.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cityq=${CITYQ:-cityq}
$cityq report --store "$store" -o "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile" \
  --virtual-time-budget=60000 --window-size=1280,2200 --screenshot="$out" "file://$work/report.html" 2>/dev/null
echo "wrote $out"
