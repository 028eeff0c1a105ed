#include "client/cli/get_options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace framewire::cli {
namespace {

bool parseInt64(const std::string& text, int64_t* value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  *value = parsed;
  return true;
}

std::string lowercaseExtension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return {};
  std::string extension = path.substr(dot);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

bool isKnownEncoding(const std::string& encoding) {
  return encoding == "raw" || encoding == "png" || encoding == "jpeg" || encoding == "bmp";
}

}  // namespace

Result<CropRect> parseCrop(const std::string& text) {
  std::vector<int64_t> numbers;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string piece = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int64_t number = 0;
    if (!parseInt64(piece, &number) || number < 0 || number > INT32_MAX) {
      return Status::invalidArgument("--crop wants x,y,width,height in pixels, got '" + text + "'");
    }
    numbers.push_back(number);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (numbers.size() != 4) {
    return Status::invalidArgument("--crop wants four numbers x,y,width,height, got '" + text + "'");
  }
  if (numbers[2] == 0 || numbers[3] == 0) {
    return Status::invalidArgument("--crop needs a positive width and height, got '" + text + "'");
  }
  return CropRect{int(numbers[0]), int(numbers[1]), int(numbers[2]), int(numbers[3])};
}

Result<int64_t> parseFrameIndex(const std::string& text) {
  int64_t index = 0;
  if (!parseInt64(text, &index)) return Status::invalidArgument("the frame index must be an integer, got '" + text + "'");
  return index;
}

Result<double> parseFrameTime(const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double seconds = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  if (text.empty() || errno != 0 || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0])) ||
      !std::isfinite(seconds)) {
    return Status::invalidArgument("--time wants seconds as a number, got '" + text + "'");
  }
  return seconds;
}

Result<std::string> chooseEncoding(const std::string& output_path, const std::string& requested_encoding) {
  if (!requested_encoding.empty() && !isKnownEncoding(requested_encoding)) {
    return Status::invalidArgument("unknown --encoding '" + requested_encoding + "' (raw, png, jpeg, bmp)");
  }
  if (output_path.empty() || output_path == "-") {
    return requested_encoding.empty() ? std::string("raw") : requested_encoding;
  }
  const std::string extension = lowercaseExtension(output_path);
  std::string implied;
  if (extension == ".png") implied = "png";
  else if (extension == ".jpg" || extension == ".jpeg") implied = "jpeg";
  else if (extension == ".bmp") implied = "bmp";
  else if (extension == ".raw") implied = "raw";
  if (implied.empty()) {
    if (!requested_encoding.empty()) return requested_encoding;
    return Status::invalidArgument("cannot tell the encoding from '" + output_path +
                                   "': name it .png, .jpg, .bmp or .raw, or give --encoding");
  }
  if (!requested_encoding.empty() && requested_encoding != implied) {
    return Status::invalidArgument("--encoding " + requested_encoding + " does not match the output name '" +
                                   output_path + "'");
  }
  return implied;
}

Status applyOutputFlags(const OutputFlags& flags, FrameOptions* options) {
  if (!flags.crop.empty()) {
    FW_ASSIGN_OR_RETURN(options->crop, parseCrop(flags.crop));
  }
  if (flags.quality < 0 || flags.quality > 100) return Status::invalidArgument("--quality must be between 1 and 100");
  if (flags.width < 0 || flags.height < 0 || flags.width > INT32_MAX || flags.height > INT32_MAX) {
    return Status::invalidArgument("--width and --height must be positive");
  }
  options->quality = static_cast<int>(flags.quality);
  options->width = static_cast<int>(flags.width);
  options->height = static_cast<int>(flags.height);
  return Status::ok();
}

}  // namespace framewire::cli
