#pragma once

#include <atomic>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/metrics/metrics.hpp"
#include "switchboard/net/buffered_socket.hpp"
#include "switchboard/net/connection_limiter.hpp"
#include "switchboard/net/keepalive_ticker.hpp"
#include "switchboard/net/server_context.hpp"
#include "switchboard/signaling/session.hpp"
#include "switchboard/signaling/session_manager.hpp"
#include "switchboard/signaling/token_bucket.hpp"

namespace switchboard {

/// One authenticated WebSocket connection, from the 101 answer to the close: a
/// `beast::websocket::stream` over a BufferedSocket. Beast answers the upgrade and does the
/// framing, masking, fragmentation, UTF-8 checks, control frames, the message size limit and
/// the close handshake; this class decides what is sent and when. It reads one message at a
/// time and hands each to the Hub, and writes what the hub delivers through a
/// bounded queue, one Beast write at a time (a queued ping or close takes its turn there
/// too). The socket is corked while the queue has more, so what one turn of the thread
/// delivers leaves in one system call. Its handlers all run on the I/O thread that accepted it;
/// it lives while one of them is pending.
///
/// It carries a Session (the user's rooms, numbering and kept messages), which outlives it
/// when the connection is lost without a close handshake, for a resume (SessionManager).
/// Each numbered message leaves with its `seq` spliced in front as it is written.
class WsSession : public SessionCarrier,
                  public KeepaliveTicker::Watcher,
                  public std::enable_shared_from_this<WsSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  /// `early_data`: bytes the client sent after its upgrade request, already read. `resume`:
  /// the session the client asked to resume, if it did. `client_address`: for the logs.
  WsSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx, Identity who,
            std::unique_ptr<ConnectionLimiter::Slot> slot, std::string early_data,
            std::optional<ResumeRequest> resume, std::string client_address);
  ~WsSession() override;

  /// Answers the upgrade `request` (already checked and authenticated) and starts the session.
  void run(Request request);

  void carry(std::uint64_t seq, SharedText message) override;
  void drop(CloseCode code, std::string_view reason) override;

 private:
  /// What waits in the write queue: a message, our keepalive ping, or our close frame.
  struct Outgoing {
    enum class Kind : std::uint8_t { text, ping, close };
    SharedText payload;  // text: the message; close: the reason
    Kind kind = Kind::text;
    CloseCode code = CloseCode::going_away;
    std::uint64_t seq = 0;  // text: spliced in front as it is written (0: none, the Welcome)
  };

  UserId user_id() const { return who_.user_id; }

  void on_accept(boost::system::error_code ec);
  /// Waits for the next message to begin, holding no buffer of ours meanwhile.
  void wait_for_message();
  /// Reads the rest of a message that has begun into in_.
  void read_message();
  void on_read(boost::system::error_code ec);
  /// in_ borrows a buffer the thread keeps between messages, or gives it back.
  void take_message_buffer();
  void release_message_buffer();
  void on_text(std::string_view text);

  /// Queues `out` and starts the writer if it is idle (own thread or not).
  void enqueue(Outgoing out);
  /// Queues `out` unless the close is queued; true when the writer must be started. mutex_ held.
  bool push_locked(Outgoing out);
  /// Starts the writer on this connection's thread, corked.
  void start_writing();
  /// Writes the next queued item, or uncorks the socket when there is none (own thread).
  void do_write();
  void on_write(boost::system::error_code ec);

  /// From the thread's KeepaliveTicker, once a second: pings after a silent interval, drops
  /// a peer silent for two, and bounds the close handshake.
  bool on_tick(std::chrono::steady_clock::time_point now) override;

  /// Stops accepting messages and closes with `code`; with `flush`, after the queue drains.
  void start_close(CloseCode code, std::string_view reason, bool flush);
  /// Our close frame joins the queue, behind what is kept (own thread).
  void begin_close(CloseCode code, const std::string& reason);
  /// From Beast's control callback: the peer's close frame has arrived. Beast answers it;
  /// the rooms learn now that the peer is gone.
  void on_peer_close();
  /// The connection is over: the socket closes, every pending operation ends.
  void finish();
  /// Lets go of the session once: `lost` (no close handshake) leaves it waiting for a resume,
  /// anything else ends it (and so leaves every room).
  void leave_hub(bool lost);
  /// Drops every queued item; mutex_ held.
  void clear_queue();

  Identity who_;
  std::optional<ResumeRequest> resume_;  // until the session is attached
  std::string client_address_;
  std::shared_ptr<Session> session_;  // from the accept on
  boost::beast::websocket::stream<BufferedSocket, false> ws_;
  boost::beast::flat_buffer in_;  // the message being read
  ServerContext& ctx_;
  std::unique_ptr<ConnectionLimiter::Slot> slot_;
  std::unique_ptr<Request> request_;  // the upgrade request, until Beast has answered it
  TokenBucket rate_;
  TokenBucket strikes_;    // how many rate-limited messages we tolerate before closing
  MetricsShard& metrics_;  // this thread's counters (the connection never leaves the thread)

  // Own thread only.
  std::vector<Outgoing> batch_;  // what the writer took from the queue, written in order
  std::size_t batch_next_ = 0;   // the next item of batch_ to write
  bool drop_unsent_ = false;     // a close that drops the queue has begun: batch_'s texts go too
  // async_close is under way: it reads to the peer's close frame itself, and no read of ours
  // may start beside it (Boost 1.81's async_read sizes its buffer from the frame state the
  // close is draining, before it waits its turn, and asserts on what it finds).
  bool close_started_ = false;
  char seq_prefix_[32];  // `{"seq":N,` of the text being written (one write at a time)
  bool heard_ = false;   // something arrived since the keepalive's last look
  std::chrono::steady_clock::time_point next_keepalive_;  // the keepalive's next look
  std::chrono::steady_clock::time_point close_deadline_;  // once the close has begun
  bool ping_sent_ = false;                                // a keepalive ping is unanswered
  bool close_begun_ = false;      // our close frame is queued: what arrives now is dropped
  bool connected_ = false;        // carrying its session
  bool finished_ = false;         // the connection has ended
  std::uint16_t close_code_ = 0;  // the close code sent or received first (0: none yet)

  // Cancel a read or our close that waits inside Beast (see finish).
  boost::asio::cancellation_signal read_cancel_;
  boost::asio::cancellation_signal close_cancel_;

  mutable std::mutex mutex_;  // guards the queue and what follows; deliver() comes from any thread
  std::vector<Outgoing> queue_;
  std::size_t queued_messages_ = 0;   // text messages in queue_ (what the limit counts)
  bool writing_ = false;              // a write is in flight or about to start
  std::atomic<bool> closing_{false};  // no more deliveries accepted (set under mutex_)
  bool close_queued_ = false;         // the close is queued: nothing may follow it
};

}  // namespace switchboard
