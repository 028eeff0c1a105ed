// Encoding one picture as a PNG, JPEG or BMP file with FFmpeg's encoders.
//
// The picture must already be in the encoder's input format (targetPixelFormat() of the
// spec: rgb24/rgba/gray/gray16be for png, yuvj420p for jpeg, bgr24/bgra/gray for bmp). The
// result is an OutputImage of one plane covering the file, whose part points into the
// encoder's packet (zero-copy; the packet lives as long as the part).
// JPEG quality 1..100 maps linearly onto the MJPEG quantiser scale 31..1 (100 = finest).
// PNG favours speed: zlib level 1 and the "up" row filter. Measured on 1080p rgb24 (one core
// of the dev machine): a smooth picture (testsrc2) deflates in ~25 ms to 330 KB (level 6:
// 3x the time for 5% less); a noisy one (ProRes camera noise) hardly compresses at any level
// (3.8 MB of 6.2) and level 1 takes ~140 ms where level 3 took ~210 ms and FFmpeg's default
// much more. Clients wanting small files can recompress; those wanting speed ask for raw.
//
// Thread-safety: a free function; each call opens its own encoder (they are cheap to open
// for still images), so calls may run concurrently.
#pragma once

#include "common/status.h"
#include "worker/decode/ffmpeg_handles.h"
#include "worker/output/output_image.h"
#include "worker/output/output_spec.h"

namespace framewire {

Result<OutputImage> encodeImage(const AVFrame& picture, ImageEncoding encoding, int quality);

// The MJPEG quantiser (1..31) used for a JPEG quality (1..100).
int jpegQuantiser(int quality);

// The zlib level of PNG output.
inline constexpr int kPngCompressionLevel = 1;

}  // namespace framewire
