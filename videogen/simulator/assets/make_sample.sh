#!/bin/sh
# Regenerate sample.mp4, the clip the simulator serves from GET /videos/{id}/content.
# Needs ffmpeg (only to regenerate; tests and the simulator just read the committed file).
# 2 s of the lavfi test pattern with a 440 Hz tone, 320x180 @ 15 fps, H.264 + AAC,
# moov atom up front (+faststart) so players can start before the download ends.
set -eu
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc=duration=2:size=320x180:rate=15" \
  -f lavfi -i "sine=frequency=440:duration=2" \
  -c:v libx264 -preset veryslow -crf 32 -pix_fmt yuv420p \
  -c:a aac -b:a 32k -shortest \
  -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
  -movflags +faststart \
  sample.mp4
ls -l sample.mp4
