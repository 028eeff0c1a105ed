#include "worker/source/movie_path.h"

#include <algorithm>
#include <map>
#include <system_error>

namespace fs = std::filesystem;

namespace framewire {
namespace {

// Checks the shape of a client-supplied relative path: no NUL, not absolute, no "..".
// `what` is "movie" or "folder", for the messages.
Status checkRelativePath(const std::string& relative, const char* what) {
  if (relative.find('\0') != std::string::npos) {
    return Status::invalidArgument(std::string(what) + " path contains a NUL byte");
  }
  const fs::path path(relative);
  if (path.is_absolute() || (!relative.empty() && relative[0] == '/')) {
    return Status::forbidden(std::string(what) + " path '" + relative +
                             "' is absolute; paths are relative to the movie roots");
  }
  for (const auto& component : path) {
    if (component == "..") {
      return Status::forbidden(std::string(what) + " path '" + relative +
                               "' contains '..'; paths may not leave their root");
    }
  }
  return Status::ok();
}

// "a/b/" -> "a/b"; "." and "" -> "".
std::string trimFolder(std::string relative) {
  while (!relative.empty() && relative.back() == '/') relative.pop_back();
  if (relative == ".") relative.clear();
  return relative;
}

}  // namespace

bool isWithin(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    // A trailing empty component ("/data/root/") matches anything.
    if (r->empty() && std::next(r) == root.end()) return true;
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

MovieRoots::MovieRoots(const std::vector<std::string>& roots) {
  for (const auto& root : roots) {
    if (root.empty()) continue;
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(fs::absolute(root, ec), ec);
    if (ec) canonical = fs::absolute(root).lexically_normal();
    roots_.push_back(canonical);
  }
}

Result<std::string> MovieRoots::resolveMovie(const std::string& relative) const {
  if (relative.empty()) return Status::invalidArgument("empty movie name");
  FW_RETURN_IF_ERROR(checkRelativePath(relative, "movie"));
  for (const auto& root : roots_) {
    const fs::path candidate = root / fs::path(relative).lexically_normal();
    std::error_code ec;
    // symlink_status: a dangling symlink "exists" here but not after canonical(); both mean
    // this root does not hold the movie.
    if (!fs::exists(fs::symlink_status(candidate, ec)) || ec) continue;
    const fs::path real = fs::canonical(candidate, ec);
    if (ec) continue;
    if (!isWithin(real, root)) {
      return Status::forbidden("movie '" + relative + "' resolves outside its root");
    }
    const auto status = fs::status(real, ec);
    if (ec) continue;
    if (fs::is_directory(status)) {
      return Status::invalidArgument("'" + relative + "' is a folder, not a movie");
    }
    if (!fs::is_regular_file(status)) {
      return Status::invalidArgument("'" + relative + "' is not a regular file");
    }
    return real.string();
  }
  return Status::notFound("no movie '" + relative + "' under the roots");
}

Result<std::vector<FolderEntry>> MovieRoots::listFolder(const std::string& requested) const {
  const std::string relative = trimFolder(requested);
  FW_RETURN_IF_ERROR(checkRelativePath(relative, "folder"));
  std::map<std::string, FolderEntry> merged;
  bool found = false;
  for (const auto& root : roots_) {
    const fs::path candidate =
        relative.empty() ? root : root / fs::path(relative).lexically_normal();
    std::error_code ec;
    const fs::path real = fs::canonical(candidate, ec);
    if (ec) continue;
    if (!isWithin(real, root)) {
      return Status::forbidden("folder '" + relative + "' resolves outside its root");
    }
    if (!fs::is_directory(real, ec)) continue;
    fs::directory_iterator it(real, fs::directory_options::skip_permission_denied, ec);
    if (ec) continue;
    found = true;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      // Symlinks are listed only when they stay inside the root (what resolveMovie accepts).
      if (it->is_symlink(ec)) {
        const fs::path target = fs::canonical(it->path(), ec);
        if (ec || !isWithin(target, root)) continue;
      }
      if (it->is_directory(ec)) {
        merged.emplace(name + "/", FolderEntry{name + "/", 0});
      } else if (it->is_regular_file(ec)) {
        const uint64_t size = it->file_size(ec);
        merged.emplace(name, FolderEntry{name, ec ? 0 : size});
      }
      ec.clear();
    }
  }
  if (!found) {
    return Status::notFound("no folder '" + relative + "' under the roots");
  }
  std::vector<FolderEntry> entries;
  entries.reserve(merged.size());
  for (auto& [name, entry] : merged) entries.push_back(std::move(entry));
  return entries;
}

}  // namespace framewire
