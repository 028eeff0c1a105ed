#include "worker/output/frame_converter.h"

#include <algorithm>
#include <cstring>
#include <thread>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "worker/output/deep_yuv_to_rgb.h"
#include "worker/output/frame_buffer_pool.h"

extern "C" {
#include <libavutil/common.h>
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

// An AVBufferRef over memory someone else owns, holding `owner` until its last reference goes.
UniqueAVBufferRef borrowedBuffer(uint8_t* data, size_t size, std::shared_ptr<const void> owner) {
  auto* held = new (std::nothrow) std::shared_ptr<const void>(std::move(owner));
  if (!held) return nullptr;
  AVBufferRef* buffer = av_buffer_create(
      data, size, [](void* opaque, uint8_t*) { delete static_cast<std::shared_ptr<const void>*>(opaque); }, held, 0);
  if (!buffer) delete held;
  return UniqueAVBufferRef(buffer);
}

// The swscale threads `threads` stands for: itself, or 0 = one per core (at most 16: more buy
// nothing for one picture).
int swscaleThreads(int threads) {
  if (threads > 0) return threads;
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 16u));
}

}  // namespace

FrameConverter::FrameConverter(int threads) : threads_(swscaleThreads(threads)) {}

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

namespace {

// The 8-bit planar format with the same layout as a deep (9..16-bit, little-endian) planar
// YUV(A) format, or AV_PIX_FMT_NONE when there is none or the output would not gain from it.
AVPixelFormat narrowFormatFor(AVPixelFormat source, AVPixelFormat destination) {
  const AVPixFmtDescriptor* in = av_pix_fmt_desc_get(source);
  const AVPixFmtDescriptor* out = av_pix_fmt_desc_get(destination);
  if (!in || !out) return AV_PIX_FMT_NONE;
  // Only packed 8-bit RGB output: that is where swscale's 8-bit path is fast.
  if (!(out->flags & AV_PIX_FMT_FLAG_RGB) || (out->flags & AV_PIX_FMT_FLAG_PLANAR) || out->comp[0].depth != 8) {
    return AV_PIX_FMT_NONE;
  }
  const bool planar_yuv = (in->flags & AV_PIX_FMT_FLAG_PLANAR) && !(in->flags & AV_PIX_FMT_FLAG_RGB) &&
                          !(in->flags & (AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL |
                                         AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_FLOAT));
  if (!planar_yuv || in->nb_components < 3 || in->comp[0].depth <= 8 || in->comp[0].depth > 16) {
    return AV_PIX_FMT_NONE;
  }
  for (int c = 0; c < in->nb_components; ++c) {
    if (in->comp[c].step != 2 || in->comp[c].offset != 0 || in->comp[c].shift != 0 ||
        in->comp[c].plane != c || in->comp[c].depth != in->comp[0].depth) {
      return AV_PIX_FMT_NONE;  // every component in its own plane, one 16-bit word per sample
    }
  }
  const bool alpha = in->flags & AV_PIX_FMT_FLAG_ALPHA;
  const int w = in->log2_chroma_w, h = in->log2_chroma_h;
  // Not 4:2:0: swscale's 8-bit 4:2:0 path repeats chroma rows where its deep path
  // interpolates them (35 dB apart on noisy pictures, under the 40 dB contract).
  if (h != 0) return AV_PIX_FMT_NONE;
  if (w == 1) return alpha ? AV_PIX_FMT_YUVA422P : AV_PIX_FMT_YUV422P;
  if (w == 0 && h == 0) return alpha ? AV_PIX_FMT_YUVA444P : AV_PIX_FMT_YUV444P;
  return AV_PIX_FMT_NONE;
}

// dst[x] = round(src[x] / 2^shift), saturated to 255: the samples' top 8 bits.
void narrowRow(const uint8_t* source, uint8_t* __restrict destination, int count, int shift) {
  const auto* src = reinterpret_cast<const uint16_t*>(source);
  int x = 0;
#if defined(__SSE2__)
  const __m128i round = _mm_set1_epi16(static_cast<int16_t>(1 << (shift - 1)));
  const __m128i bits = _mm_cvtsi32_si128(shift);
  for (; x + 16 <= count; x += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + x));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + x + 8));
    a = _mm_srl_epi16(_mm_adds_epu16(a, round), bits);
    b = _mm_srl_epi16(_mm_adds_epu16(b, round), bits);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(destination + x), _mm_packus_epi16(a, b));  // saturates
  }
#endif
  for (; x < count; ++x) {
    const unsigned value = (unsigned(src[x]) + (1u << (shift - 1))) >> shift;
    destination[x] = static_cast<uint8_t>(value > 255u ? 255u : value);
  }
}

}  // namespace

Result<const AVFrame*> FrameConverter::narrowed(const AVFrame& source, AVPixelFormat destination) {
  const auto format = static_cast<AVPixelFormat>(source.format);
  const AVPixelFormat narrow = narrowFormatFor(format, destination);
  if (narrow == AV_PIX_FMT_NONE) return &source;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  const int shift = desc->comp[0].depth - 8;
  if (!narrow_) narrow_ = allocateFrame();
  if (!narrow_) return Status::internal("out of memory for a conversion");
  av_frame_unref(narrow_.get());
  AVFrame* frame = narrow_.get();
  frame->format = narrow;
  frame->width = source.width;
  frame->height = source.height;
  if (av_frame_copy_props(frame, &source) < 0) return Status::internal("out of memory for a conversion");
  const int size = av_image_get_buffer_size(narrow, source.width, source.height, 32);
  if (size < 0) return Status::internal("cannot size an 8-bit copy");
  if (!narrow_buffer_ || narrow_buffer_->size < size_t(size) + kBufferPadding) {
    narrow_buffer_.reset(framePool().allocate(size_t(size) + kBufferPadding));  // 2 MiB aligned
    if (!narrow_buffer_) return Status::internal("out of memory for a conversion");
  }
  av_image_fill_arrays(frame->data, frame->linesize, narrow_buffer_->data, narrow, source.width, source.height, 32);

  const int planes = av_pix_fmt_count_planes(format);
  auto narrowRows = [&](int first, int last) {  // luma rows [first, last)
    for (int p = 0; p < planes; ++p) {
      const bool chroma = p == 1 || p == 2;
      const int width = chroma ? AV_CEIL_RSHIFT(source.width, desc->log2_chroma_w) : source.width;
      const int from = chroma ? first >> desc->log2_chroma_h : first;
      const int to = chroma ? AV_CEIL_RSHIFT(last, desc->log2_chroma_h) : last;
      for (int row = from; row < to; ++row) {
        narrowRow(source.data[p] + ptrdiff_t(row) * source.linesize[p], frame->data[p] + ptrdiff_t(row) * frame->linesize[p],
                  width, shift);
      }
    }
  };
  inTwoHalves(source, narrowRows);
  return frame;
}

template <typename Rows>
void FrameConverter::inTwoHalves(const AVFrame& source, const Rows& rows) const {
  // Two halves on two threads for big frames (these passes are bound by memory, not
  // arithmetic). An even split point keeps 4:2:0 chroma rows whole.
  const int split = threads_ > 1 && source.width * source.height >= (1 << 20) ? (source.height / 4) * 2 : source.height;
  std::thread helper;
  if (split < source.height) helper = std::thread(rows, split, source.height);
  rows(0, split);
  if (helper.joinable()) helper.join();
}

Result<bool> FrameConverter::scale(const AVFrame& original, AVFrame* destination, uint8_t* copy_to) {
  const auto target = static_cast<AVPixelFormat>(destination->format);
  const bool same_size = original.width == destination->width && original.height == destination->height;
  if (same_size && DeepYuvToRgb::fast()) {
    if (const std::optional<DeepYuvToRgb> direct = DeepYuvToRgb::forFrame(original, target)) {
      inTwoHalves(original, [&](int first, int last) {
        direct->convertRows(original, destination, first, last, copy_to);
      });
      return copy_to != nullptr;
    }
  }
  // Widths that are a multiple of 16 only: the 8-bit path's SIMD works in groups of pixels
  // and got the last ones of other widths wrong (measured on crops).
  const bool narrowable = same_size && original.width % 16 == 0;
  FW_ASSIGN_OR_RETURN(const AVFrame* narrowed_source, narrowable ? narrowed(original, target) : &original);
  const AVFrame& source = *narrowed_source;
  FW_ASSIGN_OR_RETURN(SwsContext * sws, context(source, destination->width, destination->height, target));
  // swscale's x86 YUV->RGB converters (FFmpeg 5.1) write whole groups of 8 pixels and skip a
  // row's last group when the row has no room for all of it: into tightly packed rows of a
  // width that is not a multiple of 8, the last pixels would keep whatever the buffer held.
  // Such frames are converted into rows with room, then copied.
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(target);
  const int pixel_bytes = desc && av_pix_fmt_count_planes(target) == 1 ? av_get_padded_bits_per_pixel(desc) / 8 : 0;
  if (pixel_bytes > 0 && destination->linesize[0] < FFALIGN(destination->width, 8) * pixel_bytes) {
    UniqueAVFrame roomy = allocateFrame();
    if (!roomy) return Status::internal("out of memory for a conversion");
    roomy->format = target;
    roomy->width = destination->width;
    roomy->height = destination->height;
    if (av_frame_get_buffer(roomy.get(), 64) < 0) return Status::internal("out of memory for a conversion");
    const int error = sws_scale_frame(sws, roomy.get(), &source);
    if (error < 0) return Status::internal("swscale failed: " + avErrorString(error));
    av_image_copy_plane(destination->data[0], destination->linesize[0], roomy->data[0], roomy->linesize[0],
                        destination->width * pixel_bytes, destination->height);
    return false;
  }
  const int error = sws_scale_frame(sws, destination, &source);
  if (error < 0) return Status::internal("swscale failed: " + avErrorString(error));
  return false;
}

Result<OutputImage> FrameConverter::toRaw(const AVFrame& frame, const OutputSpec& spec,
                                          const OutputGeometry& geometry, const RawTarget& target) {
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
    if (target.data) return Status::internal("native output is not written elsewhere: its planes keep their strides");
    return describeFrame(*source);  // zero-copy: the decoder's own buffers
  }
  const AVPixelFormat format = targetPixelFormat(spec, native);
  const int size = av_image_get_buffer_size(format, geometry.width, geometry.height, 1);
  if (size < 0) return Status::internal("cannot size a " + pixelFormatName(format) + " picture");
  const bool only_target = target.data && target.only;
  UniqueAVBufferRef buffer = only_target
                                 ? borrowedBuffer(target.data, size_t(size) + RawTarget::kSlack, target.owner)
                                 : UniqueAVBufferRef(framePool().allocate(static_cast<size_t>(size) + kBufferPadding));
  UniqueAVFrame destination = allocateFrame();
  if (!buffer || !destination) return Status::internal("out of memory for a converted frame");
  destination->format = format;
  destination->width = geometry.width;
  destination->height = geometry.height;
  destination->buf[0] = av_buffer_ref(buffer.get());
  if (!destination->buf[0]) return Status::internal("out of memory for a converted frame");
  av_image_fill_arrays(destination->data, destination->linesize, buffer->data, format,
                       geometry.width, geometry.height, 1);
  uint8_t* copy_to = only_target ? nullptr : target.data;
  FW_ASSIGN_OR_RETURN(const bool copied, scale(*source, destination.get(), copy_to));
  if (copy_to && !copied) std::memcpy(copy_to, buffer->data, static_cast<size_t>(size));
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
  // Rows aligned for the encoders' SIMD, from the frame pool like raw output.
  constexpr int kRowAlign = 64;
  const int size = av_image_get_buffer_size(format, geometry.width, geometry.height, kRowAlign);
  if (size < 0) return Status::internal("cannot size a " + pixelFormatName(format) + " picture");
  destination->buf[0] = framePool().allocate(static_cast<size_t>(size) + kBufferPadding);
  if (!destination->buf[0]) return Status::internal("out of memory for a converted frame");
  const int error = av_image_fill_arrays(destination->data, destination->linesize, destination->buf[0]->data,
                                         format, geometry.width, geometry.height, kRowAlign);
  if (error < 0) return Status::internal("cannot lay out a frame: " + avErrorString(error));
  FW_RETURN_IF_ERROR(scale(*source, destination.get()).status());
  return destination;
}

}  // namespace framewire
