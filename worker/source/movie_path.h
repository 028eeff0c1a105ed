// MovieRoots: where movie paths resolve, and the rule that they never escape their root.
//
// Clients name a movie by a path relative to the configured roots ("site/2016/a.mov"). The
// first root that holds the path wins. A path is FORBIDDEN when it is absolute, has a ".."
// component, or resolves (through symlinks anywhere along it) to a place outside the root it
// was found in; containment is checked component-wise on canonical paths, so a root
// /data/root never contains /data/root2. Only regular files are movies: a FIFO or a device
// could block or misbehave inside the demuxer.
//
// The same rules apply to folder listings (LIST). Hidden entries (names starting with ".")
// are not listed, nor are symlinks that lead outside the root.
//
// Thread-safety: immutable after construction; every method may be called concurrently.
// Known limit: the check and the later open() are not atomic, so someone who can rename
// directories inside a root while the worker runs could race it. Roots are expected to be
// read-only archives.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace framewire {

struct FolderEntry {
  std::string name;   // folders end in "/"
  uint64_t size = 0;  // bytes, for files
};

class MovieRoots {
 public:
  // Roots are canonicalised here; a root that does not exist (yet) is kept and simply
  // holds nothing.
  explicit MovieRoots(const std::vector<std::string>& roots);

  // The canonical absolute path of a movie. Empty name: INVALID_ARGUMENT; escaping its root:
  // FORBIDDEN; under no root: NOT_FOUND; a folder or a special file: INVALID_ARGUMENT.
  Result<std::string> resolveMovie(const std::string& relative) const;

  // The entries of a folder ("", "." or "/" is the top; a trailing "/" is ignored), merged over all roots (a name present
  // in several roots is listed once, from the first), sorted by name. Missing everywhere:
  // NOT_FOUND; escaping: FORBIDDEN.
  Result<std::vector<FolderEntry>> listFolder(const std::string& relative) const;

  const std::vector<std::filesystem::path>& roots() const { return roots_; }

 private:
  std::vector<std::filesystem::path> roots_;  // canonical
};

// True when `path` equals `root` or lies below it, comparing whole components of the two
// (already canonical) paths.
bool isWithin(const std::filesystem::path& path, const std::filesystem::path& root);

}  // namespace framewire
