#!/usr/bin/env bash
# Start a kiosk or lobby-display PC (Debian/Ubuntu) on one Callwise page, full screen.
#
#   deploy/screen-pc/start-screen.sh https://callwise.branch.lan/display?device=TOKEN
#
# What such a PC needs (README.md, "Kiosk and display PCs"):
#   apt-get install chromium fonts-wqy-microhei     # or fonts-noto-cjk: without a CJK font Chinese shows as boxes
# The display's voice: the browser's own when it has one, else the server's espeak-ng
# (apt-get install espeak-ng on the server, not here). The flag below lets the display chime and
# speak without a tap.
set -euo pipefail
url=${1:?usage: start-screen.sh URL}

if ! fc-list :lang=zh family | grep -q .; then
  echo "start-screen: no Chinese font installed: apt-get install fonts-wqy-microhei (or fonts-noto-cjk)" >&2
  exit 1
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "start-screen: no Chromium: apt-get install chromium" >&2
  exit 1
fi
exec "$browser" --kiosk --noerrdialogs --disable-session-crashed-bubble --no-first-run \
  --autoplay-policy=no-user-gesture-required "$url"
