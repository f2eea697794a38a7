#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "switchboard/api/http_types.hpp"

namespace switchboard {

/// The files of the web root, read into memory once at start (the demo page is small), so
/// that serving them never blocks an I/O thread. Only files found under the root at load time
/// can ever be served, which rules out path traversal by construction; symlinks inside the
/// root are followed at load time.
class StaticFiles {
 public:
  /// Loads `root` recursively; an empty or missing root serves nothing. Files over
  /// `max_total_bytes` in sum are refused with a start-up error.
  explicit StaticFiles(const std::string& root, std::size_t max_total_bytes = 64 << 20);

  /// The response for GET/HEAD `path`, or nullopt when no such file exists.
  std::optional<HttpResponse> serve(const std::string& path,
                                    const std::string& if_none_match) const;

  std::size_t file_count() const { return files_.size(); }

 private:
  struct File {
    std::shared_ptr<const std::string> content;
    std::string content_type;
    std::string etag;
  };
  std::unordered_map<std::string, File> files_;
};

/// The MIME type we send for a file name.
std::string content_type_for(const std::string& filename);

}  // namespace switchboard
