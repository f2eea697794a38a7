#include "load.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "histogram.hpp"
#include "proc_stats.hpp"

namespace switchboard::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void sleep_until_ns(std::int64_t t) {
  auto left = t - now_ns();
  if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
}

constexpr std::int64_t kSecond = 1'000'000'000;

std::int64_t seconds_ns(double s) {
  return static_cast<std::int64_t>(s * 1e9);
}

std::string random_hex(std::size_t n) {
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

class Conn;

/// What a worker hears from its connections, on its own thread.
class Listener {
 public:
  virtual ~Listener() = default;
  virtual void on_message(Conn& conn, std::string_view text) = 0;
  virtual void on_failure(Conn& conn, std::string_view what, beast::error_code ec) = 0;
};

/// One client WebSocket on a bare socket: connect, upgrade, read forever, and write all
/// queued messages in one gathered write. A load generator must cost less than the server it
/// measures, so this is not Beast's stream: it reads whatever the socket holds and parses
/// every frame in it, and it masks with the all-zero key (RFC 6455 asks clients to mask;
/// XOR with zeros leaves the payload as it is, so no copy). Lives on one single-threaded
/// io_context, so it needs no locks.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(net::io_context& ioc, Listener& listener, std::size_t index)
      : socket_(ioc), listener_(listener), index_(index) {}

  std::size_t index() const { return index_; }
  std::int64_t started_ns() const { return started_ns_; }

  void open(const tcp::endpoint& ep, std::string host, std::string target, Headers headers) {
    started_ns_ = now_ns();
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nUser-Agent: switchboard-bench\r\n";
    for (const auto& [name, value] : headers) req += name + ": " + value + "\r\n";
    req += "\r\n";
    socket_.async_connect(ep, [self = shared_from_this(), req = std::move(req)](
                                  beast::error_code ec) mutable { self->on_connect(ec, req); });
  }

  void send(std::string message) { queue_frame(0x1, nullptr, std::move(message)); }
  /// A text message of `prefix` (shared, not copied: a relay's few KB) then `rest`.
  void send(std::shared_ptr<const std::string> prefix, std::string rest) {
    queue_frame(0x1, std::move(prefix), std::move(rest));
  }

  void abort() {
    dead_ = true;
    beast::error_code ignored;
    socket_.close(ignored);
  }

 private:
  static constexpr std::size_t kReadChunk = 16 * 1024;
  static constexpr std::size_t kMaxClientHeader = 14;  // 2 + 8 length bytes + 4 mask bytes

  void on_connect(beast::error_code ec, std::string& req) {
    if (ec) return fail("connect", ec);
    socket_.set_option(tcp::no_delay(true), ec);
    auto request = std::make_shared<std::string>(std::move(req));
    net::async_write(socket_, net::buffer(*request),
                     [self = shared_from_this(), request](beast::error_code e, std::size_t) {
                       if (e) return self->fail("handshake", e);
                       self->do_read();
                     });
  }

  void do_read() {
    if (in_.size() - used_ < kReadChunk) in_.resize(used_ + kReadChunk);
    socket_.async_read_some(
        net::buffer(in_.data() + used_, in_.size() - used_),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) return fail("read", ec);
    used_ += n;
    std::size_t pos = 0;
    if (!upgraded_) {
      std::string_view head(in_.data(), used_);
      auto end = head.find("\r\n\r\n");
      if (end == std::string_view::npos) return do_read();
      if (head.rfind("HTTP/1.1 101", 0) != 0) {
        return fail("handshake", beast::http::error::bad_status);
      }
      upgraded_ = true;
      pos = end + 4;
    }
    while (!dead_) {
      auto taken = next_frame(pos);
      if (taken == 0) break;
      pos += taken;
    }
    if (dead_) return;
    // Keep the unread start of a frame at the front.
    std::memmove(in_.data(), in_.data() + pos, used_ - pos);
    used_ -= pos;
    do_read();
  }

  /// Handles the server frame at `pos` if it is whole; returns its size, or 0 for "not yet".
  std::size_t next_frame(std::size_t pos) {
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data() + pos);
    std::size_t have = used_ - pos;
    if (have < 2) return 0;
    std::size_t header = 2;
    std::uint64_t length = b[1] & 0x7F;
    if (length == 126) {
      header = 4;
      if (have < header) return 0;
      length = (std::uint64_t{b[2]} << 8) | b[3];
    } else if (length == 127) {
      header = 10;
      if (have < header) return 0;
      length = 0;
      for (int i = 2; i < 10; ++i) length = (length << 8) | b[i];
    }
    if (length > (1u << 24)) {
      fail("read", beast::websocket::error::message_too_big);
      return 0;
    }
    if (have < header + length) return 0;
    std::string_view payload(in_.data() + pos + header, static_cast<std::size_t>(length));
    const bool fin = (b[0] & 0x80) != 0;
    switch (b[0] & 0x0F) {
      case 0x0:  // continuation
      case 0x1:  // text
        if (fin && message_.empty()) {
          listener_.on_message(*this, payload);  // a whole message: read in place
          break;
        }
        message_.append(payload);
        if (fin) {
          listener_.on_message(*this, message_);
          message_.clear();
        }
        break;
      case 0x8:
        fail("read", beast::websocket::error::closed);
        break;
      case 0x9:
        queue_frame(0xA, nullptr, std::string(payload));  // the pong
        break;
      default:
        break;  // pong, binary: nothing for us
    }
    return header + static_cast<std::size_t>(length);
  }

  void queue_frame(std::uint8_t opcode, std::shared_ptr<const std::string> prefix,
                   std::string rest) {
    if (dead_) return;
    queue_.push_back(Frame{opcode, std::move(prefix), std::move(rest)});
    if (!writing_) do_write();
  }

  /// A client frame header with the all-zero masking key.
  static void frame_header(std::uint8_t opcode, std::size_t length, std::string& out) {
    out.push_back(static_cast<char>(0x80 | opcode));
    if (length <= 125) {
      out.push_back(static_cast<char>(0x80 | length));
    } else if (length <= 0xFFFF) {
      out.push_back(static_cast<char>(0x80 | 126));
      out.push_back(static_cast<char>(length >> 8));
      out.push_back(static_cast<char>(length & 0xFF));
    } else {
      out.push_back(static_cast<char>(0x80 | 127));
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((static_cast<std::uint64_t>(length) >> shift) & 0xFF));
      }
    }
    out.append(4, '\0');
  }

  void do_write() {
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    batch_.clear();
    batch_.swap(queue_);
    // Reserved for the longest headers, so the buffers pointing into it stay valid.
    headers_.clear();
    headers_.reserve(batch_.size() * kMaxClientHeader);
    buffers_.clear();
    for (const auto& frame : batch_) {
      std::size_t at = headers_.size();
      std::size_t prefix_size = frame.prefix ? frame.prefix->size() : 0;
      frame_header(frame.opcode, prefix_size + frame.rest.size(), headers_);
      buffers_.emplace_back(headers_.data() + at, headers_.size() - at);
      if (prefix_size > 0) buffers_.emplace_back(frame.prefix->data(), prefix_size);
      buffers_.emplace_back(frame.rest.data(), frame.rest.size());
    }
    net::async_write(socket_, buffers_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->fail("write", ec);
                       if (self->dead_) return;
                       self->do_write();
                     });
  }

  void fail(std::string_view what, beast::error_code ec) {
    if (dead_) return;
    dead_ = true;
    listener_.on_failure(*this, what, ec);
  }

  tcp::socket socket_;
  std::string in_;        // what was read and not yet parsed, from the front
  std::size_t used_ = 0;  // bytes of in_ that hold data
  std::string message_;   // a text message so far (frames of one message)
  struct Frame {
    std::uint8_t opcode;
    std::shared_ptr<const std::string> prefix;  // the payload's start, when shared
    std::string rest;                           // the rest of the payload
  };
  std::vector<Frame> queue_;  // waiting for the next write
  std::vector<Frame> batch_;  // what the write carries
  std::string headers_;
  std::vector<net::const_buffer> buffers_;
  Listener& listener_;
  std::size_t index_;
  std::int64_t started_ns_ = 0;
  bool upgraded_ = false;
  bool writing_ = false;
  bool dead_ = false;
};

/// State the main thread and the workers share.
struct Shared {
  std::atomic<std::int64_t> window_start{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> window_end{std::numeric_limits<std::int64_t>::max()};
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> ready{0};
  std::atomic<std::size_t> failed{0};

  bool in_window(std::int64_t t) const {
    return t >= window_start.load(std::memory_order_relaxed) &&
           t < window_end.load(std::memory_order_relaxed);
  }
};

/// Counters of one worker, merged after the run.
struct Stats {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;  // in the measured window
  std::uint64_t errors = 0;
  std::uint64_t failures = 0;
  std::int64_t last_ready_ns = 0;
  std::string first_problem;
  Histogram latency;

  void merge(const Stats& o) {
    sent += o.sent;
    received += o.received;
    errors += o.errors;
    failures += o.failures;
    last_ready_ns = std::max(last_ready_ns, o.last_ready_ns);
    if (first_problem.empty()) first_problem = o.first_problem;
    latency.merge(o.latency);
  }
};

/// Where a daemon listens.
struct Target {
  tcp::endpoint endpoint;
  std::string host;  // Host header: "127.0.0.1:PORT"
};

/// Every daemon of --url, in its order.
using Targets = std::vector<Target>;

/// The two users of one relay or rooms pair, and the pair's index in the whole run.
struct Pair {
  const Account* a;  // the room's creator
  const Account* b;
  std::size_t index;
};

/// One io_context per thread, each run by its own thread: connections never migrate, so a
/// pair's two ends and the worker that drives them share one thread and need no locks.
class ThreadGroup {
 public:
  explicit ThreadGroup(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<net::io_context>(1));
      guards_.emplace_back(net::make_work_guard(*contexts_.back()));
    }
  }
  ~ThreadGroup() { stop(); }
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;

  net::io_context& context(unsigned i) { return *contexts_[i]; }
  unsigned size() const { return static_cast<unsigned>(contexts_.size()); }

  void start() {
    for (auto& c : contexts_) threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }

  void stop() {
    guards_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

/// A worker: opens its connections with a bounded number of handshakes in flight, and
/// counts what the connections report. Scenarios derive from it.
class Worker : public Listener {
 public:
  Worker(net::io_context& ioc, const Options& opt, const Adapter& adapter, Shared& shared,
         const Targets& targets, std::size_t open_limit)
      : ioc_(ioc),
        opt_(opt),
        adapter_(adapter),
        shared_(shared),
        targets_(targets),
        open_limit_(std::max<std::size_t>(open_limit, 1)) {}

  Stats stats;

  void begin() {
    net::post(ioc_, [this] { open_more(); });
  }

  void finish() {
    net::post(ioc_, [this] {
      on_finish();
      for (auto& c : conns_) c->abort();
    });
  }

  void on_failure(Conn& conn, std::string_view what, beast::error_code ec) override {
    if (shared_.stop.load() || ec == net::error::operation_aborted) return;
    ++stats.failures;
    if (stats.first_problem.empty()) {
      stats.first_problem = std::string(what) + " failed on connection " +
                            std::to_string(conn.index()) + ": " + ec.message();
    }
    if (!welcomed_.at(conn.index())) {
      shared_.failed.fetch_add(1);
      --opening_;
      open_more();
    }
  }

 protected:
  /// The accounts of this worker's connections, in connection order, and the daemon (an
  /// index into the targets) each connects to.
  void set_accounts(std::vector<const Account*> accounts, std::vector<std::size_t> daemons) {
    accounts_ = std::move(accounts);
    daemons_ = std::move(daemons);
    welcomed_.assign(accounts_.size(), false);
    conns_.reserve(accounts_.size());
    for (std::size_t i = 0; i < accounts_.size(); ++i) {
      conns_.push_back(std::make_shared<Conn>(ioc_, *this, i));
    }
  }

  /// Connections 2k and 2k+1 are the two ends of the k-th of `pairs`; the ends of pair p
  /// (its index in the whole run) go to daemons p % n and (p + 1) % n of the n targets, so
  /// that with several daemons no pair has both ends on one.
  void set_pair_accounts(const std::vector<Pair>& pairs) {
    std::vector<const Account*> accounts;
    std::vector<std::size_t> daemons;
    for (const auto& pair : pairs) {
      accounts.push_back(pair.a);
      accounts.push_back(pair.b);
      daemons.push_back(pair.index % targets_.size());
      daemons.push_back((pair.index + 1) % targets_.size());
    }
    set_accounts(std::move(accounts), std::move(daemons));
  }

  /// Called once the server has greeted connection `i` (Welcome, or PeerJS OPEN).
  virtual void on_welcome(std::size_t i) = 0;
  virtual void on_finish() {}

  /// Classifies a message; returns it for the scenario, having handled the common kinds.
  Incoming common(Conn& conn, std::string_view text) {
    auto in = adapter_.classify(text);
    if (in.kind == Incoming::Kind::welcome && !welcomed_[conn.index()]) {
      welcomed_[conn.index()] = true;
      --opening_;
      on_welcome(conn.index());
      open_more();
    } else if (in.kind == Incoming::Kind::error) {
      ++stats.errors;
      if (stats.first_problem.empty()) stats.first_problem = "server error: " + in.detail;
    }
    return in;
  }

  void open_more() {
    while (opening_ < open_limit_ && next_open_ < conns_.size() && !shared_.stop.load()) {
      const Account& me = *accounts_[next_open_];
      const Target& target = targets_.at(daemons_.at(next_open_));
      conns_[next_open_]->open(target.endpoint, target.host, adapter_.ws_target(me),
                               adapter_.ws_headers(me));
      ++next_open_;
      ++opening_;
    }
  }

  net::io_context& ioc_;
  const Options& opt_;
  const Adapter& adapter_;
  Shared& shared_;
  const Targets& targets_;
  std::vector<const Account*> accounts_;
  std::vector<std::size_t> daemons_;  // connection i connects to targets_[daemons_[i]]
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<bool> welcomed_;

 private:
  std::size_t open_limit_;
  std::size_t opening_ = 0;
  std::size_t next_open_ = 0;
};

// ---------------------------------------------------------------------------------------
// relay: pairs of connections exchanging SDP- and ICE-sized messages.

/// Connections 2p and 2p+1 are the two ends ("A", the room's creator, and "B") of pair p.
class RelayWorker final : public Worker {
 public:
  RelayWorker(net::io_context& ioc, const Options& opt, const Adapter& adapter, Shared& shared,
              const Targets& targets, std::size_t open_limit, const std::vector<Pair>& pairs)
      : Worker(ioc, opt, adapter, shared, targets, open_limit), timer_(ioc) {
    set_pair_accounts(pairs);
    sides_.resize(conns_.size());
    rooms_.resize(pairs.size());
  }

  void start_traffic(std::int64_t t0) {
    net::post(ioc_, [this, t0] {
      if (opt_.mode == "open") {
        t0_ = t0;
        rate_per_ns_ = opt_.rate / static_cast<double>(shared_threads()) / 1e9;
        tick();
      } else {
        auto now = now_ns();
        for (std::size_t i = 0; i < sides_.size(); ++i) {
          for (unsigned w = 0; w < opt_.window; ++w) send_next(i, now);
        }
      }
    });
  }

  void set_thread_count(unsigned n) { threads_ = n; }

  void on_message(Conn& conn, std::string_view text) override {
    std::size_t i = conn.index();
    auto in = common(conn, text);
    switch (in.kind) {
      case Incoming::Kind::relay: {
        auto now = now_ns();
        if (shared_.in_window(now)) {
          ++stats.received;
          stats.latency.record(now - in.sent_ns);
        }
        if (opt_.mode != "open") send_next(i, now);
        break;
      }
      case Incoming::Kind::room_created:
        rooms_[i / 2] = in.room_id;
        if (welcomed_[i + 1]) conns_[i + 1]->send(adapter_.join_room(in.room_id));
        break;
      case Incoming::Kind::room_joined:
        if (i % 2 == 1) pair_ready(i / 2);
        break;
      default:
        break;
    }
  }

 private:
  struct Side {
    std::shared_ptr<const std::string> sdp_prefix;  // shared by every message sent
    std::shared_ptr<const std::string> ice_prefix;
    std::uint64_t seq = 0;
    bool ready = false;
  };

  unsigned shared_threads() const { return threads_; }

  void on_welcome(std::size_t i) override {
    std::size_t p = i / 2;
    if (!adapter_.has_rooms()) {
      if (welcomed_[2 * p] && welcomed_[2 * p + 1]) pair_ready(p);
    } else if (i % 2 == 0) {
      conns_[i]->send(adapter_.create_room());
    } else if (!rooms_[p].empty()) {
      conns_[i]->send(adapter_.join_room(rooms_[p]));
    }
  }

  void on_finish() override { timer_.cancel(); }

  void pair_ready(std::size_t p) {
    for (std::size_t i : {2 * p, 2 * p + 1}) {
      const Account& peer = *accounts_[i ^ 1];
      sides_[i].sdp_prefix = std::make_shared<const std::string>(
          adapter_.relay_prefix(RelayKind::sdp, peer, rooms_[p]));
      sides_[i].ice_prefix = std::make_shared<const std::string>(
          adapter_.relay_prefix(RelayKind::ice, peer, rooms_[p]));
      sides_[i].ready = true;
    }
    stats.last_ready_ns = now_ns();
    shared_.ready.fetch_add(1);
  }

  /// One message from side i to its peer: every fifth an SDP (~3 KB), the rest ICE (~350 B),
  /// the mix of a negotiation with trickle ICE.
  void send_next(std::size_t i, std::int64_t stamp) {
    if (shared_.stop.load(std::memory_order_relaxed)) return;
    Side& s = sides_[i];
    if (!s.ready) return;
    const auto& prefix = s.seq++ % 5 == 0 ? s.sdp_prefix : s.ice_prefix;
    // Only the stamp and what follows it are new: the prefix goes out as it is, shared.
    std::string rest = std::to_string(stamp);
    rest += adapter_.relay_suffix();
    conns_[i]->send(prefix, std::move(rest));
    ++stats.sent;
  }

  /// Open loop: every tick (--tick-us), send what the schedule says is due, stamped with the
  /// time it was due (so a late generator shows up as latency, not as a lower rate).
  void tick() {
    if (shared_.stop.load()) return;
    auto now = now_ns();
    auto due = static_cast<double>(now - t0_) * rate_per_ns_;
    while (static_cast<double>(scheduled_) < due && !sides_.empty()) {
      auto stamp = t0_ + static_cast<std::int64_t>(static_cast<double>(scheduled_) / rate_per_ns_);
      send_next(next_sender_, stamp);
      next_sender_ = (next_sender_ + 1) % sides_.size();
      ++scheduled_;
    }
    timer_.expires_after(std::chrono::microseconds(opt_.tick_us));
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec) tick();
    });
  }

  std::vector<Side> sides_;
  std::vector<std::string> rooms_;
  net::steady_timer timer_;
  unsigned threads_ = 1;
  std::int64_t t0_ = 0;
  double rate_per_ns_ = 0;
  std::uint64_t scheduled_ = 0;
  std::size_t next_sender_ = 0;
};

// ---------------------------------------------------------------------------------------
// connect / idle: open and authenticate connections as fast as the server admits them.

class ConnectWorker final : public Worker {
 public:
  ConnectWorker(net::io_context& ioc, const Options& opt, const Adapter& adapter, Shared& shared,
                const Targets& targets, std::size_t open_limit,
                std::vector<const Account*> accounts, std::vector<std::size_t> daemons)
      : Worker(ioc, opt, adapter, shared, targets, open_limit) {
    set_accounts(std::move(accounts), std::move(daemons));
  }

  void on_message(Conn& conn, std::string_view text) override { common(conn, text); }

 private:
  void on_welcome(std::size_t i) override {
    auto now = now_ns();
    stats.latency.record(now - conns_[i]->started_ns());
    stats.last_ready_ns = now;
    shared_.ready.fetch_add(1);
  }
};

// ---------------------------------------------------------------------------------------
// rooms: create / join / leave / leave cycles, one room at a time per pair.

class RoomsWorker final : public Worker {
 public:
  RoomsWorker(net::io_context& ioc, const Options& opt, const Adapter& adapter, Shared& shared,
              const Targets& targets, std::size_t open_limit, const std::vector<Pair>& pairs)
      : Worker(ioc, opt, adapter, shared, targets, open_limit) {
    set_pair_accounts(pairs);
    rooms_.resize(pairs.size());
    cycle_start_.resize(pairs.size());
  }

  void start_traffic() {
    net::post(ioc_, [this] {
      for (std::size_t p = 0; p < rooms_.size(); ++p) begin_cycle(p);
    });
  }

  void on_message(Conn& conn, std::string_view text) override {
    std::size_t i = conn.index();
    std::size_t p = i / 2;
    auto in = common(conn, text);
    if (i % 2 == 1) return;  // B only hears RoomJoined
    switch (in.kind) {
      case Incoming::Kind::room_created:
        rooms_[p] = in.room_id;
        conns_[i + 1]->send(adapter_.join_room(in.room_id));
        ++stats.sent;
        break;
      case Incoming::Kind::peer_joined:
        conns_[i + 1]->send(adapter_.leave_room(rooms_[p]));
        ++stats.sent;
        break;
      case Incoming::Kind::peer_left: {
        auto now = now_ns();
        if (shared_.in_window(now)) {
          ++stats.received;
          stats.latency.record(now - cycle_start_[p]);
        }
        conns_[i]->send(adapter_.leave_room(rooms_[p]));
        ++stats.sent;
        begin_cycle(p);
        break;
      }
      default:
        break;
    }
  }

 private:
  void on_welcome(std::size_t i) override {
    std::size_t p = i / 2;
    if (welcomed_[2 * p] && welcomed_[2 * p + 1]) {
      stats.last_ready_ns = now_ns();
      shared_.ready.fetch_add(1);
    }
  }

  void begin_cycle(std::size_t p) {
    if (shared_.stop.load(std::memory_order_relaxed)) return;
    cycle_start_[p] = now_ns();
    conns_[2 * p]->send(adapter_.create_room());
    ++stats.sent;
  }

  std::vector<std::string> rooms_;
  std::vector<std::int64_t> cycle_start_;
};

// ---------------------------------------------------------------------------------------
// Driving a scenario from the main thread.

Targets make_targets(const Options& opt) {
  Targets targets;
  for (const auto& d : opt.daemons) {
    targets.push_back({tcp::endpoint(net::ip::make_address(d.host), d.port),
                       d.host + ":" + std::to_string(d.port)});
  }
  if (targets.empty()) {
    targets.push_back({tcp::endpoint(net::ip::make_address(opt.host), opt.port),
                       opt.host + ":" + std::to_string(opt.port)});
  }
  return targets;
}

/// Waits until `done` holds, polling; false after `timeout` seconds.
bool wait_for(const std::function<bool()>& done, double timeout) {
  auto deadline = now_ns() + seconds_ns(timeout);
  while (!done()) {
    if (now_ns() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// The CPU seconds of each daemon of --server-pid, in its order; nothing without one, or
/// when one cannot be read (a daemon that exited).
std::optional<std::vector<double>> servers_cpu(const Options& opt) {
  if (opt.server_pids.empty()) return std::nullopt;
  std::vector<double> each;
  for (int pid : opt.server_pids) {
    auto cpu = pid > 0 ? process_cpu_seconds(pid) : std::nullopt;
    if (!cpu) return std::nullopt;
    each.push_back(*cpu);
  }
  return each;
}

/// What each daemon spent between two readings.
std::optional<std::vector<double>> cpu_spent(const std::optional<std::vector<double>>& before,
                                             const std::optional<std::vector<double>>& after) {
  if (!before || !after || before->size() != after->size()) return std::nullopt;
  std::vector<double> spent;
  for (std::size_t i = 0; i < before->size(); ++i) spent.push_back((*after)[i] - (*before)[i]);
  return spent;
}

std::optional<double> sum(const std::optional<std::vector<double>>& each) {
  if (!each) return std::nullopt;
  double total = 0;
  for (double v : *each) total += v;
  return total;
}

/// redis-server's CPU time (all its threads), or nothing without --redis-pid.
std::optional<double> redis_cpu(const Options& opt) {
  if (opt.redis_pid <= 0) return std::nullopt;
  return process_cpu_seconds(opt.redis_pid);
}

/// The database server's CPU time (PostgreSQL runs queries in processes of its own), or
/// nothing without --db-pid.
std::optional<double> db_cpu(const Options& opt) {
  if (opt.db_pid <= 0) return std::nullopt;
  return process_tree_cpu_seconds(opt.db_pid);
}

/// The daemons' RSS, summed.
std::optional<double> server_rss(const Options& opt) {
  if (opt.server_pids.empty()) return std::nullopt;
  double total = 0;
  for (int pid : opt.server_pids) {
    auto rss = pid > 0 ? process_rss_bytes(pid) : std::nullopt;
    if (!rss) return std::nullopt;
    total += *rss;
  }
  return total;
}

double ms(double ns) {
  return ns / 1e6;
}

json base_result(const Options& opt, const Adapter& adapter) {
  return json{{"server", adapter.name()},
              {"scenario", opt.scenario},
              {"label", opt.label},
              {"threads", opt.threads}};
}

void add_latency(json& r, const Histogram& h, const std::string& prefix) {
  r[prefix + "_p50_ms"] = ms(h.quantile_ns(0.50));
  r[prefix + "_p99_ms"] = ms(h.quantile_ns(0.99));
  r[prefix + "_p999_ms"] = ms(h.quantile_ns(0.999));
  r[prefix + "_max_ms"] = ms(h.quantile_ns(1.0));
}

void add_problems(json& r, const Stats& s, std::vector<std::string> problems) {
  if (s.errors > 0) problems.push_back(std::to_string(s.errors) + " errors from the server");
  if (s.failures > 0) problems.push_back(std::to_string(s.failures) + " connection failures");
  if (!s.first_problem.empty()) problems.push_back("first: " + s.first_problem);
  r["errors"] = s.errors;
  r["failures"] = s.failures;
  r["problems"] = problems;
  r["ok"] = problems.empty();
}

std::vector<Pair> make_pairs(const std::vector<Account>& accounts, std::size_t pairs) {
  if (accounts.size() < 2 * pairs) throw std::runtime_error("not enough accounts for the pairs");
  std::vector<Pair> out;
  for (std::size_t p = 0; p < pairs; ++p)
    out.push_back({&accounts[2 * p], &accounts[2 * p + 1], p});
  return out;
}

/// With several daemons (--url) or Redis (--redis-pid): the daemons' count, each one's CPU
/// per operation and Redis's, as `<what>_us_per_<unit>`. Nothing for one daemon without
/// Redis, so that its result reads as before.
void add_cluster_cpu(json& r, const Options& opt, const std::optional<std::vector<double>>& each,
                     const std::optional<double>& redis, double seconds, double count,
                     const std::string& unit) {
  if (opt.daemons.size() > 1) r["daemons"] = opt.daemons.size();
  if (count <= 0) return;
  if (each && each->size() > 1) {
    json per = json::array();
    for (double cpu : *each) per.push_back(cpu / count * 1e6);
    r["server_cpu_us_per_" + unit + "_each"] = per;
  }
  if (redis) {
    r["redis_cpu_seconds"] = *redis;
    if (seconds > 0) r["redis_cpu_cores"] = *redis / seconds;
    r["redis_cpu_us_per_" + unit] = *redis / count * 1e6;
  }
}

/// The measured window of a steady-state scenario: warm up, then read the server's CPU time
/// around `duration` seconds of traffic.
struct Window {
  double seconds = 0;
  std::optional<double> server_cpu;  // summed over the daemons
  std::optional<std::vector<double>> server_cpu_each;
  std::optional<double> db_cpu;
  std::optional<double> redis_cpu;
  double client_cpu = 0;
};

Window measure(const Options& opt, Shared& shared, std::int64_t t0) {
  auto start = t0 + seconds_ns(opt.warmup);
  auto end = start + seconds_ns(opt.duration);
  shared.window_start = start;
  shared.window_end = end;
  sleep_until_ns(start);
  auto cpu0 = servers_cpu(opt);
  auto db0 = db_cpu(opt);
  auto redis0 = redis_cpu(opt);
  auto own0 = own_cpu_seconds();
  sleep_until_ns(end);
  auto cpu1 = servers_cpu(opt);
  auto db1 = db_cpu(opt);
  auto redis1 = redis_cpu(opt);
  auto own1 = own_cpu_seconds();
  Window w;
  w.seconds = opt.duration;
  w.server_cpu_each = cpu_spent(cpu0, cpu1);
  w.server_cpu = sum(w.server_cpu_each);
  if (db0 && db1) w.db_cpu = *db1 - *db0;
  if (redis0 && redis1) w.redis_cpu = *redis1 - *redis0;
  w.client_cpu = own1 - own0;
  return w;
}

template <typename W>
Stats collect(ThreadGroup& group, Shared& shared, std::vector<std::unique_ptr<W>>& workers) {
  shared.stop = true;
  for (auto& w : workers) w->finish();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  group.stop();
  Stats total;
  for (auto& w : workers) total.merge(w->stats);
  return total;
}

}  // namespace

nlohmann::json run_relay(const Options& opt, const Adapter& adapter,
                         const std::vector<Account>& accounts) {
  auto targets = make_targets(opt);
  auto pairs = make_pairs(accounts, opt.pairs);
  Shared shared;
  ThreadGroup group(opt.threads);
  std::vector<std::unique_ptr<RelayWorker>> workers;
  for (unsigned t = 0; t < group.size(); ++t) {
    std::vector<Pair> mine;
    for (std::size_t p = t; p < pairs.size(); p += group.size()) mine.push_back(pairs[p]);
    workers.push_back(std::make_unique<RelayWorker>(group.context(t), opt, adapter, shared, targets,
                                                    opt.concurrency / group.size(), mine));
    workers.back()->set_thread_count(group.size());
  }
  group.start();
  for (auto& w : workers) w->begin();
  bool ready = wait_for([&] { return shared.ready == pairs.size() || shared.failed > 0; },
                        opt.setup_timeout);
  json r = base_result(opt, adapter);
  r["mode"] = opt.mode;
  r["pairs"] = opt.pairs;
  if (!ready || shared.failed > 0) {
    auto s = collect(group, shared, workers);
    add_problems(r, s,
                 {"set-up did not complete: " + std::to_string(shared.ready.load()) + " of " +
                  std::to_string(pairs.size()) + " pairs ready"});
    return r;
  }
  auto t0 = now_ns();
  for (auto& w : workers) w->start_traffic(t0);
  auto window = measure(opt, shared, t0);
  auto s = collect(group, shared, workers);

  if (opt.mode == "open") {
    r["offered_per_sec"] = opt.rate;
    r["tick_us"] = opt.tick_us;
  } else {
    r["window"] = opt.window;
  }
  r["seconds"] = window.seconds;
  r["messages"] = s.received;
  r["messages_per_sec"] = static_cast<double>(s.received) / window.seconds;
  add_latency(r, s.latency, "latency");
  if (window.server_cpu && s.received > 0) {
    r["server_cpu_seconds"] = *window.server_cpu;
    r["server_cpu_cores"] = *window.server_cpu / window.seconds;
    r["server_cpu_us_per_msg"] = *window.server_cpu / static_cast<double>(s.received) * 1e6;
  }
  add_cluster_cpu(r, opt, window.server_cpu_each, window.redis_cpu, window.seconds,
                  static_cast<double>(s.received), "msg");
  r["client_cpu_cores"] = window.client_cpu / window.seconds;
  std::vector<std::string> problems;
  if (s.received == 0) problems.push_back("no message was relayed in the measured window");
  if (opt.mode == "open" && static_cast<double>(s.received) < 0.9 * opt.rate * window.seconds) {
    problems.push_back("delivered less than 90% of the offered rate");
  }
  add_problems(r, s, problems);
  return r;
}

nlohmann::json run_connect(const Options& opt, const Adapter& adapter,
                           const std::vector<Account>& accounts, bool idle) {
  auto targets = make_targets(opt);
  if (accounts.size() < opt.connections) throw std::runtime_error("not enough accounts");
  Shared shared;
  ThreadGroup group(opt.threads);
  std::vector<std::unique_ptr<ConnectWorker>> workers;
  for (unsigned t = 0; t < group.size(); ++t) {
    std::vector<const Account*> mine;
    std::vector<std::size_t> daemons;  // connection i to daemon i % n
    for (std::size_t i = t; i < opt.connections; i += group.size()) {
      mine.push_back(&accounts[i]);
      daemons.push_back(i % targets.size());
    }
    workers.push_back(std::make_unique<ConnectWorker>(group.context(t), opt, adapter, shared,
                                                      targets, opt.concurrency / group.size(),
                                                      std::move(mine), std::move(daemons)));
  }
  json r = base_result(opt, adapter);
  r["connections"] = opt.connections;
  r["concurrency"] = opt.concurrency;
  auto rss_before = server_rss(opt);
  group.start();
  auto cpu0 = servers_cpu(opt);
  auto db0 = db_cpu(opt);
  auto redis0 = redis_cpu(opt);
  auto t0 = now_ns();
  for (auto& w : workers) w->begin();
  bool done =
      wait_for([&] { return shared.ready + shared.failed >= opt.connections; }, opt.setup_timeout);
  // The CPU of opening them (idle: before the settling time, in which nothing happens).
  auto cpu1 = servers_cpu(opt);
  auto db1 = db_cpu(opt);
  auto redis1 = redis_cpu(opt);
  std::optional<double> rss_after;
  if (idle && done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(opt.settle * 1000)));
    rss_after = server_rss(opt);
  }
  // Everything is read before the connections close, so the server still holds them all.
  std::size_t open = shared.ready.load();
  auto s = collect(group, shared, workers);
  auto elapsed = static_cast<double>(s.last_ready_ns - t0) / 1e9;
  r["connected"] = open;
  r["seconds"] = elapsed;
  r["connections_per_sec"] = elapsed > 0 ? static_cast<double>(open) / elapsed : 0;
  add_latency(r, s.latency, "setup");
  auto cpu_each = cpu_spent(cpu0, cpu1);
  auto cpu = sum(cpu_each);
  if (cpu && open > 0) {
    r["server_cpu_seconds"] = *cpu;
    r["server_cpu_us_per_conn"] = *cpu / static_cast<double>(open) * 1e6;
  }
  std::optional<double> redis;
  if (redis0 && redis1) redis = *redis1 - *redis0;
  add_cluster_cpu(r, opt, cpu_each, redis, elapsed, static_cast<double>(open), "conn");
  if (db0 && db1 && open > 0) {
    r["db_cpu_seconds"] = *db1 - *db0;
    r["db_cpu_us_per_conn"] = (*db1 - *db0) / static_cast<double>(open) * 1e6;
  }
  if (rss_before && rss_after && open > 0) {
    r["server_rss_before_bytes"] = *rss_before;
    r["server_rss_after_bytes"] = *rss_after;
    r["server_rss_per_conn_bytes"] = (*rss_after - *rss_before) / static_cast<double>(open);
  }
  std::vector<std::string> problems;
  if (!done) problems.push_back("timed out with " + std::to_string(open) + " connected");
  if (open < opt.connections) {
    problems.push_back(std::to_string(opt.connections - open) + " connections not established");
  }
  add_problems(r, s, problems);
  return r;
}

nlohmann::json run_rooms(const Options& opt, const Adapter& adapter,
                         const std::vector<Account>& accounts) {
  json r = base_result(opt, adapter);
  if (!adapter.has_rooms()) {
    r["problems"] = json::array({"this server has no rooms"});
    r["ok"] = false;
    return r;
  }
  auto targets = make_targets(opt);
  auto pairs = make_pairs(accounts, opt.pairs);
  Shared shared;
  ThreadGroup group(opt.threads);
  std::vector<std::unique_ptr<RoomsWorker>> workers;
  for (unsigned t = 0; t < group.size(); ++t) {
    std::vector<Pair> mine;
    for (std::size_t p = t; p < pairs.size(); p += group.size()) mine.push_back(pairs[p]);
    workers.push_back(std::make_unique<RoomsWorker>(group.context(t), opt, adapter, shared, targets,
                                                    opt.concurrency / group.size(), mine));
  }
  group.start();
  for (auto& w : workers) w->begin();
  bool ready = wait_for([&] { return shared.ready == pairs.size() || shared.failed > 0; },
                        opt.setup_timeout);
  r["pairs"] = opt.pairs;
  if (!ready || shared.failed > 0) {
    auto s = collect(group, shared, workers);
    add_problems(r, s, {"set-up did not complete"});
    return r;
  }
  auto t0 = now_ns();
  for (auto& w : workers) w->start_traffic();
  auto window = measure(opt, shared, t0);
  auto s = collect(group, shared, workers);
  r["seconds"] = window.seconds;
  r["cycles"] = s.received;
  r["cycles_per_sec"] = static_cast<double>(s.received) / window.seconds;
  // A cycle is CreateRoom, JoinRoom and two LeaveRooms.
  r["room_ops_per_sec"] = 4.0 * static_cast<double>(s.received) / window.seconds;
  add_latency(r, s.latency, "cycle");
  if (window.server_cpu && s.received > 0) {
    r["server_cpu_cores"] = *window.server_cpu / window.seconds;
    r["server_cpu_us_per_cycle"] = *window.server_cpu / static_cast<double>(s.received) * 1e6;
  }
  add_cluster_cpu(r, opt, window.server_cpu_each, window.redis_cpu, window.seconds,
                  static_cast<double>(s.received), "cycle");
  std::vector<std::string> problems;
  if (s.received == 0) problems.push_back("no room cycle completed in the measured window");
  add_problems(r, s, problems);
  return r;
}

// ---------------------------------------------------------------------------------------
// Accounts.

namespace {

/// POST /register over one kept-alive connection per thread; set-up only, so synchronous.
class Registrar {
 public:
  explicit Registrar(const Options& opt) : opt_(opt) {}

  Account register_user(const std::string& name) {
    for (int attempt = 0;; ++attempt) {
      try {
        return try_register(name);
      } catch (const std::exception& e) {
        stream_.reset();
        if (attempt >= 5) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
      }
    }
  }

 private:
  Account try_register(const std::string& name) {
    if (!stream_) {
      stream_ = std::make_unique<beast::tcp_stream>(ioc_);
      stream_->connect(tcp::endpoint(net::ip::make_address(opt_.host), opt_.port));
    }
    http::request<http::string_body> req{http::verb::post, "/register", 11};
    req.set(http::field::host, opt_.host + ":" + std::to_string(opt_.port));
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = json{{"Username", name}, {"Password", "bench-password-0"}}.dump();
    req.prepare_payload();
    http::write(*stream_, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(*stream_, buffer, res);
    if (!res.keep_alive()) stream_.reset();
    if (res.result() != http::status::created) {
      throw std::runtime_error("POST /register " + name + ": " + std::to_string(res.result_int()) +
                               " " + res.body());
    }
    auto j = json::parse(res.body());
    return {name, j.at("api_key").get<std::string>(), j.at("user_id").get<std::uint64_t>()};
  }

  const Options& opt_;
  net::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> stream_;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// register: POST /register as fast as the server answers, from a fixed number of clients.

namespace {

/// One client of the register scenario, on a thread of its own: a fresh name per request, one
/// request at a time, over one kept-alive connection (opened again if the server closes it).
/// Blocking calls, as in Registrar: a handful of threads waiting on the server cost the
/// generator next to nothing beside what a registration costs the server.
class RegisterClient {
 public:
  RegisterClient(const Options& opt, Shared& shared, std::string prefix)
      : opt_(opt), shared_(shared), prefix_(std::move(prefix)) {}

  /// sent: requests answered; received: 201s completed in the measured window, whose
  /// latency (request written to answer read) is recorded; errors: other answers.
  Stats stats;

  void run() {
    for (std::uint64_t i = 0; !shared_.stop.load(std::memory_order_relaxed); ++i) {
      std::string name = prefix_ + std::to_string(i);
      auto start = now_ns();
      http::response<http::string_body> res;
      try {
        res = post(name);
      } catch (const std::exception& e) {
        stream_.reset();
        if (shared_.stop.load()) break;
        ++stats.failures;
        if (stats.first_problem.empty()) {
          stats.first_problem = "POST /register " + name + ": " + e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a server gone: no spin
        continue;
      }
      auto end = now_ns();
      ++stats.sent;
      if (res.result() == http::status::created) {
        if (shared_.in_window(end)) {
          ++stats.received;
          stats.latency.record(end - start);
        }
      } else {
        ++stats.errors;
        if (stats.first_problem.empty()) {
          stats.first_problem = "POST /register " + name + " answered " +
                                std::to_string(res.result_int()) + " " + res.body().substr(0, 200);
        }
      }
    }
  }

 private:
  http::response<http::string_body> post(const std::string& name) {
    if (!stream_) {
      stream_ = std::make_unique<beast::tcp_stream>(ioc_);
      stream_->connect(tcp::endpoint(net::ip::make_address(opt_.host), opt_.port));
      stream_->socket().set_option(tcp::no_delay(true));
      buffer_.clear();
    }
    http::request<http::string_body> req{http::verb::post, "/register", 11};
    req.set(http::field::host, opt_.host + ":" + std::to_string(opt_.port));
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = json{{"Username", name}, {"Password", "bench-password-0"}}.dump();
    req.prepare_payload();
    http::write(*stream_, req);
    http::response<http::string_body> res;
    http::read(*stream_, buffer_, res);
    if (!res.keep_alive()) stream_.reset();
    return res;
  }

  const Options& opt_;
  Shared& shared_;
  std::string prefix_;
  net::io_context ioc_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace

nlohmann::json run_register(const Options& opt, const Adapter& adapter) {
  json r = base_result(opt, adapter);
  unsigned clients_n = std::max(1u, opt.concurrency);
  r["threads"] = clients_n;
  r["concurrency"] = clients_n;
  if (adapter.kind() != ServerKind::switchboard) {
    r["problems"] = json::array({"register is a switchboard scenario"});
    r["ok"] = false;
    return r;
  }
  Shared shared;
  // Names no earlier run used, whatever the database holds: "r" + 6 random hex digits, the
  // client, a counter (at most 32 characters, as the server wants).
  std::string run = "r" + random_hex(6) + "_";
  std::vector<std::unique_ptr<RegisterClient>> clients;
  for (unsigned c = 0; c < clients_n; ++c) {
    clients.push_back(std::make_unique<RegisterClient>(opt, shared, run + std::to_string(c) + "_"));
  }
  std::vector<std::thread> threads;
  auto t0 = now_ns();
  for (auto& c : clients) threads.emplace_back([client = c.get()] { client->run(); });
  auto window = measure(opt, shared, t0);
  shared.stop = true;
  for (auto& t : threads) t.join();
  Stats s;
  for (const auto& c : clients) s.merge(c->stats);

  r["seconds"] = window.seconds;
  r["requests"] = s.sent;
  r["registrations"] = s.received;
  r["registrations_per_sec"] = static_cast<double>(s.received) / window.seconds;
  add_latency(r, s.latency, "latency");
  if (window.server_cpu && s.received > 0) {
    r["server_cpu_seconds"] = *window.server_cpu;
    r["server_cpu_cores"] = *window.server_cpu / window.seconds;
    r["server_cpu_us_per_registration"] =
        *window.server_cpu / static_cast<double>(s.received) * 1e6;
  }
  if (window.db_cpu && s.received > 0) {
    r["db_cpu_seconds"] = *window.db_cpu;
    r["db_cpu_cores"] = *window.db_cpu / window.seconds;
    r["db_cpu_us_per_registration"] = *window.db_cpu / static_cast<double>(s.received) * 1e6;
  }
  r["client_cpu_cores"] = window.client_cpu / window.seconds;
  // errors: answers other than 201 Created (the first is quoted); failures: broken
  // connections.
  std::vector<std::string> problems;
  if (s.received == 0) problems.push_back("no registration completed in the measured window");
  add_problems(r, s, problems);
  return r;
}

std::vector<Account> prepare_accounts(const Options& opt, const Adapter& adapter,
                                      std::size_t count) {
  std::vector<Account> accounts;
  if (adapter.kind() == ServerKind::peerjs) {
    auto run = random_hex(8);
    for (std::size_t i = 0; i < count; ++i) {
      accounts.push_back({"bench-" + run + "-" + std::to_string(i), "t" + random_hex(6), 0});
    }
    return accounts;
  }
  // The users file caches registered accounts between runs against the same database:
  // "prefix P" on the first line, then "name id key" per line.
  std::string prefix;
  if (!opt.users_file.empty()) {
    std::ifstream in(opt.users_file);
    std::string word;
    if (in >> word >> prefix && word == "prefix") {
      Account a;
      while (in >> a.name >> a.id >> a.secret) accounts.push_back(a);
    } else {
      prefix.clear();
    }
  }
  if (prefix.empty()) prefix = "b" + random_hex(6);
  std::size_t have = accounts.size();
  if (have < count) {
    std::cerr << "registering " << (count - have) << " users...\n";
    std::vector<Account> fresh(count - have);
    std::atomic<std::size_t> next{0};
    std::mutex error_mutex;
    std::string error;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        Registrar registrar(opt);
        for (std::size_t i = next++; i < fresh.size(); i = next++) {
          try {
            fresh[i] = registrar.register_user(prefix + "_" + std::to_string(have + i));
          } catch (const std::exception& e) {
            std::lock_guard lock(error_mutex);
            error = e.what();
            next = fresh.size();
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    if (!error.empty()) throw std::runtime_error(error);
    accounts.insert(accounts.end(), fresh.begin(), fresh.end());
    if (!opt.users_file.empty()) {
      std::ofstream out(opt.users_file, std::ios::trunc);
      out << "prefix " << prefix << "\n";
      for (const auto& a : accounts) out << a.name << ' ' << a.id << ' ' << a.secret << '\n';
    }
  }
  accounts.resize(count);
  return accounts;
}

}  // namespace switchboard::bench
