#include "worker/output/output_spec.h"

#include <algorithm>
#include <cmath>

namespace framewire {
namespace {

constexpr const char* kFormats = "native, rgb24, rgba, bgr24, gray8, gray16";
constexpr const char* kEncodings = "raw, png, jpeg, bmp";

bool parseFormat(const std::string& name, OutputFormat* format) {
  if (name.empty() || name == "rgb24") *format = OutputFormat::kRgb24;
  else if (name == "native") *format = OutputFormat::kNative;
  else if (name == "bgr24") *format = OutputFormat::kBgr24;
  else if (name == "rgba") *format = OutputFormat::kRgba;
  else if (name == "gray8") *format = OutputFormat::kGray8;
  else if (name == "gray16") *format = OutputFormat::kGray16;
  else return false;
  return true;
}

bool parseEncoding(const std::string& name, ImageEncoding* encoding) {
  if (name.empty() || name == "raw") *encoding = ImageEncoding::kRaw;
  else if (name == "png") *encoding = ImageEncoding::kPng;
  else if (name == "jpeg") *encoding = ImageEncoding::kJpeg;
  else if (name == "bmp") *encoding = ImageEncoding::kBmp;
  else return false;
  return true;
}

}  // namespace

AVPixelFormat targetPixelFormat(const OutputSpec& spec, AVPixelFormat native_format) {
  switch (spec.encoding) {
    case ImageEncoding::kRaw:
      switch (spec.format) {
        case OutputFormat::kNative: return native_format;
        case OutputFormat::kRgb24: return AV_PIX_FMT_RGB24;
        case OutputFormat::kBgr24: return AV_PIX_FMT_BGR24;
        case OutputFormat::kRgba: return AV_PIX_FMT_RGBA;
        case OutputFormat::kGray8: return AV_PIX_FMT_GRAY8;
        case OutputFormat::kGray16: return AV_PIX_FMT_GRAY16LE;
      }
      break;
    case ImageEncoding::kPng:
      switch (spec.format) {
        case OutputFormat::kRgb24:
        case OutputFormat::kBgr24: return AV_PIX_FMT_RGB24;
        case OutputFormat::kRgba: return AV_PIX_FMT_RGBA;
        case OutputFormat::kGray8: return AV_PIX_FMT_GRAY8;
        case OutputFormat::kGray16: return AV_PIX_FMT_GRAY16BE;
        default: return AV_PIX_FMT_NONE;
      }
    case ImageEncoding::kJpeg:
      switch (spec.format) {
        case OutputFormat::kRgb24:
        case OutputFormat::kBgr24:
        case OutputFormat::kGray8: return AV_PIX_FMT_YUVJ420P;
        default: return AV_PIX_FMT_NONE;
      }
    case ImageEncoding::kBmp:
      switch (spec.format) {
        case OutputFormat::kRgb24:
        case OutputFormat::kBgr24: return AV_PIX_FMT_BGR24;
        case OutputFormat::kRgba: return AV_PIX_FMT_BGRA;
        case OutputFormat::kGray8: return AV_PIX_FMT_GRAY8;
        default: return AV_PIX_FMT_NONE;
      }
  }
  return AV_PIX_FMT_NONE;
}

Result<OutputSpec> parseOutputSpec(const proto::Request& request) {
  OutputSpec spec;
  const std::string format = request.format() ? request.format()->str() : "";
  if (!parseFormat(format, &spec.format)) {
    return Status::invalidArgument("unknown format '" + format + "'; use one of " + kFormats);
  }
  spec.format_name = format.empty() ? "rgb24" : format;
  const std::string encoding = request.encoding() ? request.encoding()->str() : "";
  if (!parseEncoding(encoding, &spec.encoding)) {
    return Status::invalidArgument("unknown encoding '" + encoding + "'; use one of " + kEncodings);
  }
  spec.encoding_name = encoding.empty() ? "raw" : encoding;
  if (spec.encoding != ImageEncoding::kRaw &&
      targetPixelFormat(spec, AV_PIX_FMT_NONE) == AV_PIX_FMT_NONE) {
    // Name the formats this encoding does take.
    std::string accepted;
    for (const char* name : {"rgb24", "bgr24", "rgba", "gray8", "gray16"}) {
      OutputSpec candidate = spec;
      parseFormat(name, &candidate.format);
      if (targetPixelFormat(candidate, AV_PIX_FMT_NONE) == AV_PIX_FMT_NONE) continue;
      accepted += accepted.empty() ? name : std::string(", ") + name;
    }
    return Status::invalidArgument("format " + spec.format_name + " cannot be encoded as " +
                                   spec.encoding_name + "; " + spec.encoding_name + " takes " +
                                   accepted);
  }
  if (request.quality() < 0 || request.quality() > 100) {
    return Status::invalidArgument("jpeg quality " + std::to_string(request.quality()) +
                                   " is not in 1..100 (0 = default)");
  }
  spec.quality = request.quality() == 0 ? kDefaultJpegQuality : request.quality();
  if (request.width() < 0 || request.height() < 0 || request.width() > kMaxOutputSide ||
      request.height() > kMaxOutputSide) {
    return Status::invalidArgument("output size " + std::to_string(request.width()) + "x" +
                                   std::to_string(request.height()) + " is not in 0.." +
                                   std::to_string(kMaxOutputSide));
  }
  spec.width = request.width();
  spec.height = request.height();
  if (const proto::Rect* crop = request.crop()) {
    // An all-zero rectangle is what a client that always fills the field sends for "none".
    if (crop->x() != 0 || crop->y() != 0 || crop->width() != 0 || crop->height() != 0) {
      if (crop->width() <= 0 || crop->height() <= 0 || crop->x() < 0 || crop->y() < 0) {
        return Status::invalidArgument(
            "crop needs x >= 0, y >= 0 and a positive width and height, got " +
            std::to_string(crop->x()) + "," + std::to_string(crop->y()) + " " +
            std::to_string(crop->width()) + "x" + std::to_string(crop->height()));
      }
      spec.crop = true;
      spec.crop_rect = {crop->x(), crop->y(), crop->width(), crop->height()};
    }
  }
  return spec;
}

Result<OutputGeometry> outputGeometry(const OutputSpec& spec, int frame_width, int frame_height) {
  if (frame_width <= 0 || frame_height <= 0) {
    return Status::decodeError("the decoder produced a frame without a size");
  }
  OutputGeometry geometry;
  geometry.crop = {0, 0, frame_width, frame_height};
  if (spec.crop) {
    const CropRect& c = spec.crop_rect;
    if (int64_t(c.x) + c.width > frame_width || int64_t(c.y) + c.height > frame_height) {
      return Status::invalidArgument(
          "crop " + std::to_string(c.x) + "," + std::to_string(c.y) + " " + std::to_string(c.width) +
          "x" + std::to_string(c.height) + " reaches outside the " + std::to_string(frame_width) +
          "x" + std::to_string(frame_height) + " frame");
    }
    geometry.crop = c;
    geometry.cropped = c.x != 0 || c.y != 0 || c.width != frame_width || c.height != frame_height;
  }
  const int cw = geometry.crop.width;
  const int ch = geometry.crop.height;
  int width = spec.width;
  int height = spec.height;
  if (width == 0 && height == 0) {
    width = cw;
    height = ch;
  } else if (width == 0) {
    width = std::max(1, int(std::lround(double(height) * cw / ch)));
  } else if (height == 0) {
    height = std::max(1, int(std::lround(double(width) * ch / cw)));
  }
  if (width > kMaxOutputSide || height > kMaxOutputSide) {
    return Status::invalidArgument("output size " + std::to_string(width) + "x" +
                                   std::to_string(height) + " is larger than " +
                                   std::to_string(kMaxOutputSide));
  }
  geometry.width = width;
  geometry.height = height;
  geometry.resized = width != cw || height != ch;
  return geometry;
}

}  // namespace framewire
