#include "worker/output/image_encoder.h"

#include <algorithm>
extern "C" {
#include <libavutil/opt.h>
}

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace framewire {

int jpegQuantiser(int quality) {
  quality = std::clamp(quality, 1, 100);
  return 1 + ((100 - quality) * 30 + 49) / 99;
}

Result<OutputImage> encodeImage(const AVFrame& picture, ImageEncoding encoding, int quality) {
  AVCodecID codec_id;
  switch (encoding) {
    case ImageEncoding::kPng: codec_id = AV_CODEC_ID_PNG; break;
    case ImageEncoding::kJpeg: codec_id = AV_CODEC_ID_MJPEG; break;
    case ImageEncoding::kBmp: codec_id = AV_CODEC_ID_BMP; break;
    default: return Status::internal("encodeImage called for raw output");
  }
  const AVCodec* codec = avcodec_find_encoder(codec_id);
  if (!codec) return Status::internal(std::string("no ") + avcodec_get_name(codec_id) + " encoder");
  UniqueAVCodecContext context(avcodec_alloc_context3(codec));
  UniqueAVFrame frame = referenceFrame(&picture);
  UniqueAVPacket packet = allocatePacket();
  if (!context || !frame || !packet) return Status::internal("out of memory for an encoder");
  context->width = picture.width;
  context->height = picture.height;
  context->pix_fmt = static_cast<AVPixelFormat>(picture.format);
  context->time_base = AVRational{1, 25};  // required; meaningless for a still image
  if (encoding == ImageEncoding::kJpeg) {
    const int quantiser = jpegQuantiser(quality);
    context->flags |= AV_CODEC_FLAG_QSCALE;
    context->qmin = 1;
    context->qmax = 31;
    context->global_quality = quantiser * FF_QP2LAMBDA;
    frame->quality = context->global_quality;
    context->color_range = AVCOL_RANGE_JPEG;
    frame->pict_type = AV_PICTURE_TYPE_NONE;
  } else if (encoding == ImageEncoding::kPng) {
    // Speed over size (see the header): zlib level 1, rows predicted from the row above.
    context->compression_level = kPngCompressionLevel;
    av_opt_set(context->priv_data, "pred", "up", 0);
  }
  int error = avcodec_open2(context.get(), codec, nullptr);
  if (error < 0) {
    return Status::internal(std::string("cannot open the ") + codec->name +
                            " encoder: " + avErrorString(error));
  }
  error = avcodec_send_frame(context.get(), frame.get());
  if (error >= 0) error = avcodec_send_frame(context.get(), nullptr);
  if (error >= 0) error = avcodec_receive_packet(context.get(), packet.get());
  if (error < 0) {
    return Status::internal(std::string(codec->name) + " encoding failed: " + avErrorString(error));
  }
  if (!packet->buf) {
    // Every FFmpeg encoder returns ref-counted packets; make sure before sending zero-copy.
    error = av_packet_make_refcounted(packet.get());
    if (error < 0) return Status::internal("cannot keep an encoded image: " + avErrorString(error));
  }
  const uint8_t* data = packet->data;
  const size_t size = static_cast<size_t>(packet->size);
  const char* format_name = av_get_pix_fmt_name(context->pix_fmt);
  return describeEncodedImage(sharePacket(std::move(packet)), data, size, picture.width,
                              picture.height, format_name ? format_name : "unknown");
}

}  // namespace framewire
