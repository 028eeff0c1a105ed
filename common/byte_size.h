// Byte sizes as people write them on a command line: "1073741824", "512M", "1.5G", "10GiB",
// "2T". Suffixes are binary (K = 1024, M = 1024^2, G, T; an optional "i" and "B" are
// accepted, case does not matter). Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace framewire {

// INVALID_ARGUMENT naming `what` (e.g. "--cache-bytes") when `text` is not a size.
Result<uint64_t> parseByteSize(const std::string& text, const std::string& what);

// "1.0 GiB", "512.0 MiB", "123 bytes": for logs and help texts.
std::string byteSizeText(uint64_t bytes);

}  // namespace framewire
