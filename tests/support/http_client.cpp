#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace switchboard::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string HttpResult::error_code() const {
  if (json_body.is_object() && json_body.contains("error") && json_body["error"].is_object()) {
    return json_body["error"].value("code", "");
  }
  return {};
}

std::string HttpResult::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout) {
  HttpResult result;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST") req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(method == "HEAD");
  stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](auto ec) {
    if (ec) {
      result.error = "connect: " + ec.message();
      return;
    }
    http::async_write(stream, req, [&](auto wec, auto) {
      if (wec) {
        result.error = "write: " + wec.message();
        return;
      }
      http::async_read(stream, buffer, parser, [&](auto rec, auto) {
        if (rec) {
          result.error = "read: " + rec.message();
          return;
        }
        auto& res = parser.get();
        result.status = static_cast<int>(res.result_int());
        for (const auto& f : res) {
          std::string name(f.name_string());
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          result.headers[name] = std::string(f.value());
        }
        result.body = res.body();
        result.json_body = nlohmann::json::parse(result.body, nullptr, false);
        if (result.json_body.is_discarded()) result.json_body = nullptr;
      });
    });
  });
  ioc.run();
  return result;
}

HttpResult http_post_json(std::uint16_t port, const std::string& target, const nlohmann::json& body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  auto all = headers;
  all.emplace_back("Content-Type", "application/json");
  return http_request(port, "POST", target, body.dump(), all);
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  std::string out;
  std::array<char, 4096> chunk{};
  std::function<void()> read_more = [&] {
    stream.async_read_some(net::buffer(chunk), [&](auto ec, std::size_t n) {
      out.append(chunk.data(), n);
      if (!ec) read_more();
    });
  };
  stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](auto ec) {
    if (ec) return;
    net::async_write(stream, net::buffer(bytes), [&](auto, auto) {});
    read_more();
  });
  ioc.run();
  return out;
}

}  // namespace switchboard::test
