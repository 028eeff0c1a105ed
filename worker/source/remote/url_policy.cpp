#include "worker/source/remote/url_policy.h"

#include <algorithm>
#include <cctype>

namespace framewire {
namespace {

int defaultPort(const std::string& scheme) { return scheme == "https" ? 443 : 80; }

bool isUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Checks one decoded path segment. `shown` is the URL for messages.
Status checkSegment(const std::string& segment, const std::string& shown) {
  if (segment == "." || segment == "..") {
    return Status::forbidden("URL '" + shown + "' has a '" + segment +
                             "' path segment (also refused when percent-encoded)");
  }
  for (const char c : segment) {
    if (c == '/' || c == '\\') {
      return Status::forbidden("URL '" + shown + "' has an encoded '/' or a '\\' in a path segment");
    }
    if (c == '\0') return Status::forbidden("URL '" + shown + "' has an encoded NUL byte");
  }
  return Status::ok();
}

}  // namespace

bool looksLikeUrl(const std::string& text) {
  const size_t colon = text.find("://");
  if (colon == std::string::npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  for (size_t i = 0; i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

Result<std::string> percentDecode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 1 < text.size() ? hexValue(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) return Status::invalidArgument("broken percent escape in '" + text + "'");
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::string encodePathSegment(const std::string& segment) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char ch : segment) {
    const unsigned char c = static_cast<unsigned char>(ch);
    // RFC 3986 pchar without the sub-delimiters some servers give meaning to (";" "=" ...).
    if (isUnreserved(c) || c == ':' || c == '@' || c == '!' || c == '$' || c == '\'' ||
        c == '(' || c == ')' || c == '*' || c == ',' || c == '+') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string HttpUrl::toString() const {
  std::string out = scheme + "://" + host;
  if (port != defaultPort(scheme)) out += ":" + std::to_string(port);
  for (const auto& segment : segments) out += "/" + encodePathSegment(segment);
  if (segments.empty() || trailing_slash) out += "/";
  return out;
}

std::string HttpUrl::path() const {
  std::string out;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) out += "/";
    out += segments[i];
  }
  return out;
}

Result<HttpUrl> parseHttpUrl(const std::string& text) {
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      return Status::invalidArgument("URL '" + text + "' contains a space, a control or a non-ASCII byte");
    }
    if (c == '\\') return Status::forbidden("URL '" + text + "' contains a backslash");
  }
  const size_t scheme_end = text.find("://");
  if (!looksLikeUrl(text)) return Status::invalidArgument("'" + text + "' is not an absolute URL");
  HttpUrl url;
  url.scheme = text.substr(0, scheme_end);
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::forbidden("URL '" + text + "': only http and https URLs are allowed");
  }
  if (text.find_first_of("?#") != std::string::npos) {
    return Status::forbidden("URL '" + text + "' has a query string or fragment; not allowed");
  }
  const size_t authority_start = scheme_end + 3;
  const size_t path_start = text.find('/', authority_start);
  const std::string authority = text.substr(authority_start, path_start == std::string::npos
                                                                 ? std::string::npos
                                                                 : path_start - authority_start);
  if (authority.find('@') != std::string::npos) {
    return Status::forbidden("URL '" + text + "' has user information ('user@host'); not allowed");
  }
  if (authority.find('%') != std::string::npos) {
    return Status::forbidden("URL '" + text + "' has percent-encoding in its host; not allowed");
  }
  std::string host = authority;
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::invalidArgument("URL '" + text + "': bad IPv6 host");
    host = authority.substr(0, close + 1);
    const std::string rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Status::invalidArgument("URL '" + text + "': bad host");
      port_text = rest.substr(1);
      if (port_text.empty()) return Status::invalidArgument("URL '" + text + "': empty port");
    }
    for (size_t i = 1; i + 1 < host.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(host[i]);
      if (!std::isxdigit(c) && c != ':' && c != '.') {
        return Status::invalidArgument("URL '" + text + "': bad IPv6 host");
      }
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string::npos) {
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Status::invalidArgument("URL '" + text + "': empty port");
    }
    for (const char ch : host) {
      const unsigned char c = static_cast<unsigned char>(ch);
      if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') {
        return Status::invalidArgument("URL '" + text + "': bad character in host");
      }
    }
  }
  if (host.empty() || host == "[]") return Status::invalidArgument("URL '" + text + "' has no host");
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  url.host = host;
  url.port = defaultPort(url.scheme);
  if (!port_text.empty()) {
    if (port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return Status::invalidArgument("URL '" + text + "': bad port");
    }
    url.port = std::stoi(port_text);
    if (url.port < 1 || url.port > 65535) return Status::invalidArgument("URL '" + text + "': bad port");
  }
  if (path_start != std::string::npos) {
    const std::string path = text.substr(path_start);
    url.trailing_slash = path.size() > 1 && path.back() == '/';
    size_t start = 1;
    while (start <= path.size()) {
      size_t end = path.find('/', start);
      if (end == std::string::npos) end = path.size();
      const std::string raw = path.substr(start, end - start);
      if (!raw.empty()) {
        FW_ASSIGN_OR_RETURN(std::string segment, percentDecode(raw));
        FW_RETURN_IF_ERROR(checkSegment(segment, text));
        url.segments.push_back(std::move(segment));
      }
      start = end + 1;
    }
  }
  return url;
}

Result<UrlPolicy> UrlPolicy::create(const std::vector<std::string>& bases) {
  UrlPolicy policy;
  for (const auto& text : bases) {
    Result<HttpUrl> base = parseHttpUrl(text);
    if (!base.ok()) {
      return Status::invalidArgument("--remote-base " + text + ": " + base.status().message());
    }
    base->trailing_slash = true;  // a base is a folder
    policy.bases_.push_back(std::move(base).value());
  }
  return policy;
}

Result<UrlPolicy::Match> UrlPolicy::check(const std::string& text, bool allow_base_itself) const {
  FW_ASSIGN_OR_RETURN(HttpUrl url, parseHttpUrl(text));
  return check(url, allow_base_itself);
}

Result<UrlPolicy::Match> UrlPolicy::check(const HttpUrl& url, bool allow_base_itself) const {
  for (size_t i = 0; i < bases_.size(); ++i) {
    const HttpUrl& base = bases_[i];
    if (url.scheme != base.scheme || url.host != base.host || url.port != base.port) continue;
    if (url.segments.size() < base.segments.size()) continue;
    if (url.segments.size() == base.segments.size() && !allow_base_itself) continue;
    if (!std::equal(base.segments.begin(), base.segments.end(), url.segments.begin())) continue;
    Match match;
    match.base = i;
    match.url = url;
    for (size_t s = base.segments.size(); s < url.segments.size(); ++s) {
      if (!match.relative.empty()) match.relative += "/";
      match.relative += url.segments[s];
    }
    return match;
  }
  if (bases_.empty()) {
    return Status::forbidden("URL '" + url.toString() + "' refused: no --remote-base is configured");
  }
  return Status::forbidden("URL '" + url.toString() + "' is not under a configured --remote-base");
}

Result<HttpUrl> UrlPolicy::join(size_t base, const std::string& relative, bool folder) const {
  if (base >= bases_.size()) return Status::internal("no remote base " + std::to_string(base));
  if (relative.find('\0') != std::string::npos) {
    return Status::invalidArgument("path contains a NUL byte");
  }
  if (!relative.empty() && relative[0] == '/') {
    return Status::forbidden("path '" + relative + "' is absolute; paths are relative to the remote bases");
  }
  if (relative.find('\\') != std::string::npos) {
    return Status::forbidden("path '" + relative + "' contains a backslash");
  }
  HttpUrl url = bases_[base];
  size_t start = 0;
  while (start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    const std::string segment = relative.substr(start, end - start);
    if (segment == "..") {
      return Status::forbidden("path '" + relative + "' contains '..'; paths may not leave their base");
    }
    if (!segment.empty() && segment != ".") url.segments.push_back(segment);
    start = end + 1;
  }
  url.trailing_slash = folder;
  return url;
}

}  // namespace framewire
