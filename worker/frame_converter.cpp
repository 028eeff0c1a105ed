#include "worker/frame_converter.h"

#include <algorithm>

#include "worker/movie_input.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace framewire {
namespace {

// swscale contexts kept per converter: one request rarely needs more than one or two.
constexpr size_t kMaxCachedContexts = 4;
// Slack after a packed buffer, so that no SIMD row writer can ever step past its end.
constexpr size_t kBufferPadding = 64;

std::string pixelFormatName(AVPixelFormat format) {
  const char* name = av_get_pix_fmt_name(format);
  return name ? name : "unknown";
}

}  // namespace

FrameConverter::FrameConverter(int threads) : threads_(resolveThreadCount(threads)) {}

FrameConverter::~FrameConverter() = default;

Result<UniqueAVFrame> FrameConverter::cropped(const AVFrame& frame,
                                              const OutputGeometry& geometry) const {
  UniqueAVFrame view = referenceFrame(&frame);
  if (!view) return Status::internal("out of memory referencing a frame");
  if (!geometry.cropped) return view;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame.format));
  if (!desc) return Status::internal("frame without a known pixel format");
  if ((desc->flags & (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL)) &&
      (geometry.crop.x != 0 || geometry.crop.y != 0)) {
    return Status::invalidArgument("frames in " + pixelFormatName(static_cast<AVPixelFormat>(frame.format)) +
                                   " can only be cropped from the top left corner");
  }
  view->crop_left = static_cast<size_t>(geometry.crop.x);
  view->crop_top = static_cast<size_t>(geometry.crop.y);
  view->crop_right = static_cast<size_t>(frame.width - geometry.crop.x - geometry.crop.width);
  view->crop_bottom = static_cast<size_t>(frame.height - geometry.crop.y - geometry.crop.height);
  const int error = av_frame_apply_cropping(view.get(), AV_FRAME_CROP_UNALIGNED);
  if (error < 0) return Status::invalidArgument("cannot crop the frame: " + avErrorString(error));
  return view;
}

Result<SwsContext*> FrameConverter::context(const AVFrame& source, int width, int height,
                                            AVPixelFormat format) {
  const ContextKey key{source.width, source.height, source.format, width, height, format,
                       source.colorspace, source.color_range};
  for (size_t i = 0; i < contexts_.size(); ++i) {
    if (contexts_[i].first == key) {
      // Most recently used goes last.
      std::rotate(contexts_.begin() + static_cast<long>(i), contexts_.begin() + static_cast<long>(i) + 1,
                  contexts_.end());
      return contexts_.back().second.get();
    }
  }
  const auto source_format = static_cast<AVPixelFormat>(source.format);
  if (!sws_isSupportedInput(source_format)) {
    return Status::invalidArgument("cannot convert from " + pixelFormatName(source_format));
  }
  if (!sws_isSupportedOutput(format)) {
    return Status::invalidArgument("cannot convert to " + pixelFormatName(format));
  }
  UniqueSwsContext sws(sws_alloc_context());
  if (!sws) return Status::internal("out of memory allocating a swscale context");
  av_opt_set_int(sws.get(), "srcw", source.width, 0);
  av_opt_set_int(sws.get(), "srch", source.height, 0);
  av_opt_set_int(sws.get(), "src_format", source_format, 0);
  av_opt_set_int(sws.get(), "dstw", width, 0);
  av_opt_set_int(sws.get(), "dsth", height, 0);
  av_opt_set_int(sws.get(), "dst_format", format, 0);
  av_opt_set_int(sws.get(), "sws_flags", SWS_BICUBIC, 0);  // ffmpeg's default
  av_opt_set_int(sws.get(), "threads", threads_, 0);
  const int error = sws_init_context(sws.get(), nullptr, nullptr);
  if (error < 0) return Status::internal("cannot set up swscale: " + avErrorString(error));
  // As ffmpeg's scale filter does: the frame's colour matrix and range, the rest as swscale
  // chose it. (For RGB sources swscale ignores this.)
  int* inverse_table = nullptr;
  int* table = nullptr;
  int source_range = 0, destination_range = 0, brightness = 0, contrast = 0, saturation = 0;
  if (sws_getColorspaceDetails(sws.get(), &inverse_table, &source_range, &table, &destination_range,
                               &brightness, &contrast, &saturation) >= 0) {
    const int* coefficients = sws_getCoefficients(source.colorspace);
    if (source.color_range != AVCOL_RANGE_UNSPECIFIED) {
      source_range = source.color_range == AVCOL_RANGE_JPEG;
    }
    sws_setColorspaceDetails(sws.get(), coefficients, source_range, coefficients, destination_range,
                             brightness, contrast, saturation);
  }
  if (contexts_.size() >= kMaxCachedContexts) contexts_.erase(contexts_.begin());
  contexts_.emplace_back(key, std::move(sws));
  return contexts_.back().second.get();
}

Status FrameConverter::scale(const AVFrame& source, AVFrame* destination) {
  FW_ASSIGN_OR_RETURN(SwsContext * sws,
                      context(source, destination->width, destination->height,
                              static_cast<AVPixelFormat>(destination->format)));
  const int error = sws_scale_frame(sws, destination, &source);
  if (error < 0) return Status::internal("swscale failed: " + avErrorString(error));
  return Status::ok();
}

Result<OutputImage> FrameConverter::toRaw(const AVFrame& frame, const OutputSpec& spec,
                                          const OutputGeometry& geometry) {
  const auto native = static_cast<AVPixelFormat>(frame.format);
  if (spec.format == OutputFormat::kNative && geometry.cropped) {
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(native);
    const int x_step = 1 << desc->log2_chroma_w;
    const int y_step = 1 << desc->log2_chroma_h;
    if (geometry.crop.x % x_step != 0 || geometry.crop.y % y_step != 0) {
      return Status::invalidArgument(
          "a native crop of " + pixelFormatName(native) + " must start on its chroma grid: x a multiple of " +
          std::to_string(x_step) + " and y a multiple of " + std::to_string(y_step) +
          " (or ask for a converted format)");
    }
  }
  FW_ASSIGN_OR_RETURN(UniqueAVFrame source, cropped(frame, geometry));
  if (spec.format == OutputFormat::kNative && !geometry.resized) {
    return describeFrame(*source);  // zero-copy: the decoder's own buffers
  }
  const AVPixelFormat format = targetPixelFormat(spec, native);
  const int size = av_image_get_buffer_size(format, geometry.width, geometry.height, 1);
  if (size < 0) return Status::internal("cannot size a " + pixelFormatName(format) + " picture");
  UniqueAVBufferRef buffer(av_buffer_alloc(static_cast<size_t>(size) + kBufferPadding));
  UniqueAVFrame destination = allocateFrame();
  if (!buffer || !destination) return Status::internal("out of memory for a converted frame");
  destination->format = format;
  destination->width = geometry.width;
  destination->height = geometry.height;
  destination->buf[0] = av_buffer_ref(buffer.get());
  if (!destination->buf[0]) return Status::internal("out of memory for a converted frame");
  av_image_fill_arrays(destination->data, destination->linesize, buffer->data, format,
                       geometry.width, geometry.height, 1);
  FW_RETURN_IF_ERROR(scale(*source, destination.get()));
  return describeFrame(*destination);
}

Result<UniqueAVFrame> FrameConverter::toFrame(const AVFrame& frame, const OutputGeometry& geometry,
                                              AVPixelFormat format) {
  FW_ASSIGN_OR_RETURN(UniqueAVFrame source, cropped(frame, geometry));
  UniqueAVFrame destination = allocateFrame();
  if (!destination) return Status::internal("out of memory for a converted frame");
  destination->format = format;
  destination->width = geometry.width;
  destination->height = geometry.height;
  if (format == AV_PIX_FMT_YUVJ420P) destination->color_range = AVCOL_RANGE_JPEG;
  const int error = av_frame_get_buffer(destination.get(), 0);
  if (error < 0) return Status::internal("cannot allocate a frame: " + avErrorString(error));
  FW_RETURN_IF_ERROR(scale(*source, destination.get()));
  return destination;
}

}  // namespace framewire
