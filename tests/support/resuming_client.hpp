#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "support/test_server.hpp"
#include "support/ws_client.hpp"

namespace switchboard::test {

/// A client that resumes as protocol.md says: it numbers what it sends, remembers the last
/// server `seq` it handled and what it sent that the server has not acknowledged, and after
/// a lost connection comes back with ?resume=&last_seq=, resending what the ack leaves out.
/// It checks on the way that server messages come numbered 1, 2, 3, ... without a gap or a
/// repeat, across every resume.
class ResumingClient {
 public:
  ResumingClient(std::uint16_t port, Registered account)
      : port_(port), account_(std::move(account)) {}

  /// A fresh session; returns the Welcome.
  nlohmann::json connect() { return open("/ws"); }

  /// Reconnects asking for the session back; returns the Welcome. Resends what the ack
  /// does not cover when resumed; forgets it (a fresh session) when not.
  nlohmann::json resume() {
    nlohmann::json welcome =
        open("/ws?resume=" + session_ + "&last_seq=" + std::to_string(last_seq_));
    if (welcome.is_null()) return welcome;
    if (welcome["payload"].value("resumed", false)) {
      std::uint64_t ack = welcome["payload"].value("ack", std::uint64_t{0});
      while (!unacked_.empty() && unacked_.front().first <= ack) unacked_.pop_front();
      for (const auto& [seq, text] : unacked_) ws_->send(text);
    } else {
      unacked_.clear();
      last_seq_ = 0;
      client_seq_ = 0;
    }
    return welcome;
  }

  /// Sends `m` numbered; true if it was written (a dead socket's write fails: it is resent
  /// after the resume).
  bool send(nlohmann::json m) {
    m["seq"] = ++client_seq_;
    std::string text = m.dump();
    unacked_.emplace_back(client_seq_, text);
    return ws_->send(text);
  }

  /// The next message, its `seq` checked and recorded; nullopt when none came in `timeout`.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto m = ws_->next(timeout);
    if (!m) return m;
    if (m->contains("seq")) {
      auto seq = (*m)["seq"].get<std::uint64_t>();
      EXPECT_EQ(seq, last_seq_ + 1) << "a gap or a repeat: " << m->dump();
      last_seq_ = seq;
    }
    return m;
  }

  /// Where the next connect or resume goes (another daemon of a cluster).
  void set_port(std::uint16_t port) { port_ = port; }

  /// The connection is gone (and everything it received has been taken).
  bool lost() {
    return ws_->pending() == 0 && ws_->wait_closed(std::chrono::milliseconds(0)).has_value();
  }
  const std::string& session() const { return session_; }
  std::uint64_t last_seq() const { return last_seq_; }
  const Registered& account() const { return account_; }
  WsClient& ws() { return *ws_; }

 private:
  nlohmann::json open(const std::string& target) {
    ws_ = std::make_unique<WsClient>();
    if (ws_->connect(port_, target, {{"X-API-Key", account_.api_key}}) != 101) return nullptr;
    auto welcome = ws_->next(std::chrono::seconds(5));
    if (!welcome || (*welcome)["msg_type"] != 12) return nullptr;  // Welcome
    EXPECT_FALSE(welcome->contains("seq")) << "the Welcome is not numbered";
    session_ = (*welcome)["payload"].value("session", "");
    return *welcome;
  }

  std::uint16_t port_;
  Registered account_;
  std::unique_ptr<WsClient> ws_;
  std::string session_;
  std::uint64_t last_seq_ = 0;
  std::uint64_t client_seq_ = 0;
  std::deque<std::pair<std::uint64_t, std::string>> unacked_;
};

}  // namespace switchboard::test
