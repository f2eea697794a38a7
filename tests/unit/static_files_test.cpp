#include "switchboard/api/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "support/temp_dir.hpp"

namespace switchboard {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

void write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::optional<std::string> header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

/// A web root at <tmp>/www with a secret next to it at <tmp>/secret.txt.
struct WebRoot {
  WebRoot() {
    root = dir.path() / "www";
    write(root / "index.html", "<!doctype html><title>home</title>");
    write(root / "app.js", "console.log('app');");
    write(root / "style.css", "body{}");
    write(root / "sub" / "index.html", "<p>sub</p>");
    write(root / "sub" / "data.json", R"({"k":1})");
    write(root / "sub" / "deeper" / "pic.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
    write(root / ".env", "SECRET=1");
    write(root / ".git" / "config", "[core]");
    write(root / "sub" / ".secret", "hidden");
    write(root / "sub" / ".hidden" / "inner.js", "hidden");
    write(dir.path() / "secret.txt", "outside the root");
  }

  std::string path() const { return root.string(); }

  TempDir dir;
  fs::path root;
};

TEST(StaticFiles, LoadsOnlyPublishableFiles) {
  WebRoot web;
  StaticFiles files(web.path());
  EXPECT_EQ(files.file_count(), 6u);
}

TEST(StaticFiles, ServesFilesWithContentTypes) {
  WebRoot web;
  StaticFiles files(web.path());
  auto js = files.serve("/app.js", "");
  ASSERT_TRUE(js.has_value());
  EXPECT_EQ(js->status, 200u);
  EXPECT_EQ(js->body, "console.log('app');");
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");

  auto html = files.serve("/index.html", "");
  ASSERT_TRUE(html.has_value());
  EXPECT_EQ(html->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(html->body, "<!doctype html><title>home</title>");

  auto css = files.serve("/style.css", "");
  ASSERT_TRUE(css.has_value());
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");

  auto data = files.serve("/sub/data.json", "");
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->content_type, "application/json");
  EXPECT_EQ(data->body, R"({"k":1})");

  auto png = files.serve("/sub/deeper/pic.png", "");
  ASSERT_TRUE(png.has_value());
  EXPECT_EQ(png->content_type, "image/png");
  EXPECT_EQ(png->body, std::string("\x89PNG\r\n\x1a\n\0\0", 10));  // binary-safe
}

TEST(StaticFiles, SlashServesIndexHtml) {
  WebRoot web;
  StaticFiles files(web.path());
  auto r = files.serve("/", "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "<!doctype html><title>home</title>");
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
  auto sub = files.serve("/sub/", "");
  ASSERT_TRUE(sub.has_value());
  EXPECT_EQ(sub->body, "<p>sub</p>");
}

TEST(StaticFiles, EtagAndNotModified) {
  WebRoot web;
  StaticFiles files(web.path());
  auto first = files.serve("/app.js", "");
  ASSERT_TRUE(first.has_value());
  auto etag = header(*first, "ETag");
  ASSERT_TRUE(etag.has_value());
  ASSERT_GE(etag->size(), 3u);
  EXPECT_EQ(etag->front(), '"');
  EXPECT_EQ(etag->back(), '"');

  auto again = files.serve("/app.js", *etag);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 304u);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(header(*again, "ETag"), etag);

  auto stale = files.serve("/app.js", "\"something-else\"");
  ASSERT_TRUE(stale.has_value());
  EXPECT_EQ(stale->status, 200u);
  EXPECT_EQ(stale->body, "console.log('app');");
}

TEST(StaticFiles, EtagDependsOnContent) {
  WebRoot web;
  StaticFiles files(web.path());
  auto a = header(*files.serve("/app.js", ""), "ETag");
  auto b = header(*files.serve("/style.css", ""), "ETag");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  // Same content, same tag, across loads.
  StaticFiles reloaded(web.path());
  EXPECT_EQ(header(*reloaded.serve("/app.js", ""), "ETag"), a);
  // Changed content, new tag.
  write(web.root / "app.js", "console.log('v2');");
  StaticFiles changed(web.path());
  auto c = header(*changed.serve("/app.js", ""), "ETag");
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(*c, *a);
  EXPECT_EQ(changed.serve("/app.js", *a)->status, 200u);
}

TEST(StaticFiles, HtmlIsNeverCachedWithoutRevalidation) {
  WebRoot web;
  StaticFiles files(web.path());
  for (const char* path : {"/", "/index.html", "/sub/"}) {
    auto r = files.serve(path, "");
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(header(*r, "Cache-Control"), "no-cache") << path;
  }
  auto js = files.serve("/app.js", "");
  ASSERT_TRUE(js.has_value());
  auto cc = header(*js, "Cache-Control");
  ASSERT_TRUE(cc.has_value());
  EXPECT_NE(*cc, "no-store");
}

TEST(StaticFiles, ContentTypeIsNotSniffed) {
  WebRoot web;
  StaticFiles files(web.path());
  auto r = files.serve("/app.js", "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(header(*r, "X-Content-Type-Options"), "nosniff");
}

TEST(StaticFiles, MissingFileIsNullopt) {
  WebRoot web;
  StaticFiles files(web.path());
  EXPECT_FALSE(files.serve("/missing.html", "").has_value());
  EXPECT_FALSE(files.serve("/sub/missing.js", "").has_value());
  EXPECT_FALSE(files.serve("/sub", "").has_value());  // a directory is not a file
  EXPECT_FALSE(files.serve("", "").has_value());
}

TEST(StaticFiles, PathTraversalIsRefused) {
  WebRoot web;
  StaticFiles files(web.path());
  for (const char* path :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
        "/sub/../app.js", "/./app.js", "//app.js", "/../www/app.js", "/%2e%2e/www/app.js"}) {
    auto r = files.serve(path, "");
    EXPECT_FALSE(r.has_value()) << path << " served " << (r ? r->body : "");
  }
}

TEST(StaticFiles, MalformedEscapesAreRefused) {
  WebRoot web;
  StaticFiles files(web.path());
  EXPECT_FALSE(files.serve("/app.js%", "").has_value());
  EXPECT_FALSE(files.serve("/app%2.js", "").has_value());
  EXPECT_FALSE(files.serve("/app.js%00", "").has_value());
}

TEST(StaticFiles, PercentEncodedNamesAreDecoded) {
  WebRoot web;
  StaticFiles files(web.path());
  auto r = files.serve("/app%2Ejs", "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "console.log('app');");
}

TEST(StaticFiles, DotFilesAreNeverServed) {
  WebRoot web;
  StaticFiles files(web.path());
  for (const char* path : {"/.env", "/.git/config", "/sub/.secret", "/sub/.hidden/inner.js",
                           "/%2eenv", "/%2Egit/config", "/sub/%2esecret"}) {
    EXPECT_FALSE(files.serve(path, "").has_value()) << path;
  }
}

TEST(StaticFiles, MissingOrEmptyRootServesNothing) {
  WebRoot web;
  StaticFiles none((web.dir.path() / "no-such-dir").string());
  EXPECT_EQ(none.file_count(), 0u);
  EXPECT_FALSE(none.serve("/", "").has_value());
  StaticFiles empty_name("");
  EXPECT_EQ(empty_name.file_count(), 0u);
  EXPECT_FALSE(empty_name.serve("/index.html", "").has_value());
}

TEST(StaticFiles, OversizedRootIsAStartUpError) {
  WebRoot web;
  EXPECT_THROW(StaticFiles files(web.path(), 10), std::runtime_error);
}

TEST(StaticFiles, FilesAreReadOnceAtLoad) {
  WebRoot web;
  StaticFiles files(web.path());
  write(web.root / "late.js", "added after load");
  write(web.root / "app.js", "changed after load");
  EXPECT_FALSE(files.serve("/late.js", "").has_value());
  auto r = files.serve("/app.js", "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "console.log('app');");
}

TEST(StaticFiles, SymlinksInsideTheRootAreFollowed) {
  WebRoot web;
  write(web.dir.path() / "shared" / "lib.js", "shared lib");
  fs::create_symlink("app.js", web.root / "latest.js");
  fs::create_directory_symlink(web.dir.path() / "shared", web.root / "assets");
  StaticFiles files(web.path());
  auto latest = files.serve("/latest.js", "");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->body, "console.log('app');");
  auto lib = files.serve("/assets/lib.js", "");
  ASSERT_TRUE(lib.has_value());
  EXPECT_EQ(lib->body, "shared lib");
  // The original is still served under its own name.
  EXPECT_TRUE(files.serve("/app.js", "").has_value());
}

TEST(StaticFiles, ContentTypeForKnownAndUnknownExtensions) {
  EXPECT_EQ(content_type_for("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("a.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("a.json"), "application/json");
  EXPECT_EQ(content_type_for("a.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("dir/a.png"), "image/png");
  EXPECT_EQ(content_type_for("a.bin"), "application/octet-stream");
  EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
}

}  // namespace
}  // namespace switchboard
