#include "worker/source/remote/autoindex_listing.h"

#include <cctype>
#include <cstdlib>
#include <map>

#include "worker/source/remote/url_policy.h"

namespace framewire {
namespace {

std::string lower(std::string text) {
  for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Replaces the few entities autoindex pages use in hrefs.
std::string decodeEntities(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      static const std::pair<const char*, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};
      bool replaced = false;
      for (const auto& [entity, value] : kEntities) {
        const size_t length = std::char_traits<char>::length(entity);
        if (text.compare(i, length, entity) == 0) {
          out += value;
          i += length - 1;
          replaced = true;
          break;
        }
      }
      if (replaced) continue;
    }
    out += text[i];
  }
  return out;
}

// The text after `from` up to the end of its line, with tags removed.
std::string restOfLine(const std::string& html, size_t from) {
  size_t end = html.find('\n', from);
  if (end == std::string::npos) end = html.size();
  // Apache's fancy index puts a whole table row on one line; a row ends with </tr>.
  const size_t row_end = lower(html.substr(from, end - from)).find("</tr>");
  if (row_end != std::string::npos) end = from + row_end;
  std::string out;
  bool in_tag = false;
  for (size_t i = from; i < end; ++i) {
    const char c = html[i];
    if (c == '<') {
      in_tag = true;
      out += ' ';
    } else if (c == '>') {
      in_tag = false;
    } else if (!in_tag) {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool parseListingSize(const std::string& token, uint64_t* bytes) {
  if (token.empty() || !std::isdigit(static_cast<unsigned char>(token[0]))) return false;
  size_t i = 0;
  while (i < token.size() && (std::isdigit(static_cast<unsigned char>(token[i])) || token[i] == '.')) ++i;
  const std::string number = token.substr(0, i);
  if (number.find('.') != number.rfind('.')) return false;  // "1.2.3"
  std::string suffix = lower(token.substr(i));
  if (suffix == "b" || suffix == "bytes") suffix.clear();
  double scale = 1;
  if (suffix == "k" || suffix == "kb" || suffix == "kib") scale = 1024.0;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") scale = 1024.0 * 1024;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") scale = 1024.0 * 1024 * 1024;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!suffix.empty()) return false;
  if (number.find('.') == std::string::npos && suffix.empty()) {
    *bytes = std::strtoull(number.c_str(), nullptr, 10);
    return true;
  }
  *bytes = static_cast<uint64_t>(std::strtod(number.c_str(), nullptr) * scale);
  return true;
}

std::vector<FolderEntry> parseAutoindex(const std::string& html, const std::string& folder_path) {
  std::string base = folder_path;
  if (base.empty() || base.back() != '/') base += '/';
  const std::string lowered = lower(html);
  std::map<std::string, FolderEntry> entries;
  size_t at = 0;
  while ((at = lowered.find("<a", at)) != std::string::npos) {
    const size_t tag_end = lowered.find('>', at);
    if (tag_end == std::string::npos) break;
    const std::string tag = html.substr(at, tag_end - at);
    const std::string tag_lower = lowered.substr(at, tag_end - at);
    at = tag_end + 1;
    const size_t href_at = tag_lower.find("href=");
    if (href_at == std::string::npos) continue;
    size_t value_start = href_at + 5;
    std::string href;
    if (value_start < tag.size() && (tag[value_start] == '"' || tag[value_start] == '\'')) {
      const char quote = tag[value_start];
      const size_t close = tag.find(quote, value_start + 1);
      if (close == std::string::npos) continue;
      href = tag.substr(value_start + 1, close - value_start - 1);
    } else {
      size_t close = value_start;
      while (close < tag.size() && !std::isspace(static_cast<unsigned char>(tag[close]))) ++close;
      href = tag.substr(value_start, close - value_start);
    }
    href = decodeEntities(href);
    if (href.empty() || href[0] == '?' || href[0] == '#' || looksLikeUrl(href)) continue;
    if (href.find_first_of("?#") != std::string::npos) continue;
    Result<std::string> decoded = percentDecode(href);
    if (!decoded.ok()) continue;
    std::string name = *decoded;
    if (!name.empty() && name[0] == '/') {
      if (name.compare(0, base.size(), base) != 0) continue;  // elsewhere (the parent, icons)
      name = name.substr(base.size());
    }
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    const bool folder = !name.empty() && name.back() == '/';
    if (folder) name.pop_back();
    if (name.empty() || name == "." || name == ".." || name[0] == '.') continue;
    if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos) continue;
    FolderEntry entry;
    entry.name = folder ? name + "/" : name;
    if (!folder) {
      const size_t close_a = lowered.find("</a>", at);
      if (close_a != std::string::npos) {
        const std::string rest = restOfLine(html, close_a + 4);
        size_t end = rest.size();
        while (end > 0) {
          while (end > 0 && std::isspace(static_cast<unsigned char>(rest[end - 1]))) --end;
          size_t begin = end;
          while (begin > 0 && !std::isspace(static_cast<unsigned char>(rest[begin - 1]))) --begin;
          if (begin == end) break;
          uint64_t bytes = 0;
          if (parseListingSize(rest.substr(begin, end - begin), &bytes)) {
            entry.size = bytes;
            break;
          }
          end = begin;
        }
      }
    }
    entries.emplace(entry.name, entry);
  }
  std::vector<FolderEntry> out;
  out.reserve(entries.size());
  for (auto& [name, entry] : entries) out.push_back(std::move(entry));
  return out;
}

}  // namespace framewire
