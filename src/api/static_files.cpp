#include "switchboard/api/static_files.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "switchboard/util/encoding.hpp"

namespace switchboard {

namespace fs = std::filesystem;

std::string content_type_for(const std::string& filename) {
  static const std::pair<const char*, const char*> types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  auto ext = fs::path(filename).extension().string();
  for (auto [e, type] : types) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

StaticFiles::StaticFiles(const std::string& root, std::size_t max_total_bytes) {
  std::error_code ec;
  if (root.empty() || !fs::is_directory(root, ec)) {
    if (!root.empty()) spdlog::warn("web root '{}' is not a directory; serving no files", root);
    return;
  }
  std::size_t total = 0;
  auto options = fs::directory_options::follow_directory_symlink;
  for (auto it = fs::recursive_directory_iterator(root, options, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto relative = it->path().lexically_relative(root).generic_string();
    // Dot files (.git, .env, editor swap files) are never published.
    if (relative.empty() || relative.front() == '.' || relative.find("/.") != std::string::npos) {
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    auto bytes = std::make_shared<const std::string>(content.str());
    total += bytes->size();
    if (total > max_total_bytes) {
      throw std::runtime_error("web root " + root + " holds more than " +
                               std::to_string(max_total_bytes) + " bytes");
    }
    unsigned char digest[crypto_generichash_BYTES_MIN];
    crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(bytes->data()),
                       bytes->size(), nullptr, 0);
    std::string etag = "\"";
    etag += base64url_encode({digest, sizeof digest});
    etag += '"';
    std::string url_path = "/";
    url_path += relative;
    files_[url_path] = File{bytes, content_type_for(relative), std::move(etag)};
  }
  spdlog::info("serving {} static files ({} bytes) from {}", files_.size(), total, root);
}

std::optional<HttpResponse> StaticFiles::serve(const std::string& path,
                                               const std::string& if_none_match) const {
  std::string decoded;
  if (!percent_decode(path, decoded)) return std::nullopt;
  if (!decoded.empty() && decoded.back() == '/') decoded += "index.html";
  auto it = files_.find(decoded);
  if (it == files_.end()) return std::nullopt;
  const File& f = it->second;
  HttpResponse r;
  r.content_type = f.content_type;
  r.headers.emplace_back("ETag", f.etag);
  // HTML revalidates every time so a deploy shows at once; assets revalidate hourly.
  bool html = f.content_type.rfind("text/html", 0) == 0;
  r.headers.emplace_back("Cache-Control", html ? "no-cache" : "public, max-age=3600");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (if_none_match == f.etag) {
    r.status = 304;
    return r;
  }
  r.body = *f.content;
  return r;
}

}  // namespace switchboard
