#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace switchboard::test {

/// A CA and a server certificate for 127.0.0.1 and localhost that it signed, made with the
/// `openssl` command in `dir` (EC P-256, valid for two days). Empty paths when openssl failed.
struct TestPki {
  std::string ca_file;    // PEM: hand to WEBHOOK_CA_FILE
  std::string cert_file;  // the server's certificate
  std::string key_file;
};
TestPki make_test_pki(const TempDir& dir, const std::string& name);

/// A webhook receiver for tests: a real HTTP/1.1 server (Beast) on 127.0.0.1, plain or TLS, on
/// a thread of its own. Every request is recorded; a script decides each answer: a status, a
/// dropped connection, or no answer at all. Stops on destruction.
class WebhookReceiver {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::size_t connection = 0;  // which accepted connection carried it, from 1
  };
  enum class Action { answer, drop, never_answer };
  struct Reply {
    Action action = Action::answer;
    unsigned status = 200;
  };
  /// The answer to the `index`-th request (from 0).
  using Script = std::function<Reply(const Request&, std::size_t index)>;

  /// Plain HTTP, or TLS with `pki`'s certificate when it is given.
  explicit WebhookReceiver(Script script = {}, const TestPki* pki = nullptr);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const;
  /// "http://127.0.0.1:PORT/hook" (https for TLS).
  std::string url(const std::string& path = "/hook") const;
  /// Waits (bounded) until `n` requests have come; returns every request so far (fewer at the
  /// timeout).
  std::vector<Request> wait_for(std::size_t n,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Waits (bounded) until `done` holds for the requests so far; returns them either way.
  std::vector<Request> wait_until(const std::function<bool(const std::vector<Request>&)>& done,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<Request> requests();
  /// TCP connections accepted, and TLS handshakes that failed (from the daemon's side: an
  /// untrusted certificate ends the handshake).
  std::size_t connections();
  std::size_t failed_handshakes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::test
