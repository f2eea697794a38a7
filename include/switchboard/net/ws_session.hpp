#pragma once

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/uio.h>

#include "switchboard/net/connection_limiter.hpp"
#include "switchboard/net/readiness_set.hpp"
#include "switchboard/net/server_context.hpp"
#include "switchboard/net/ws_frame.hpp"
#include "switchboard/signaling/peer.hpp"
#include "switchboard/signaling/token_bucket.hpp"

namespace switchboard {

/// One authenticated WebSocket connection, from the 101 answer to the last byte. It reads
/// whatever the socket has (many frames per read, into a per-thread buffer, so an idle
/// connection holds no read buffer), hands each text message to the SignalingHub, and
/// writes what the hub delivers through a bounded queue: one gathered write at a time,
/// carrying every frame queued meanwhile. Its socket is a plain descriptor, out of Asio's
/// reactor, whose readiness the thread's ReadinessSet reports; its timers are Asio's. The
/// session lives while that set watches it, holds it for its round's end, or a handler of it
/// is pending; its handlers all run on one I/O thread: the one that accepted it until it
/// joins a room, then its room host's (see settle_near).
class WsSession : public Peer,
                  public ReadinessSet::Watcher,
                  public std::enable_shared_from_this<WsSession> {
 public:
  /// `early_data`: bytes the client sent after its upgrade request, already read.
  WsSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx, Identity who,
            std::unique_ptr<ConnectionLimiter::Slot> slot, std::string early_data);
  ~WsSession() override;

  /// Answers the upgrade (101, with the accept key for `client_key`) and starts the session.
  void run(std::string_view client_key);

  void deliver(SharedText message) override;
  void close(CloseCode code, std::string_view reason) override;
  /// Moves this connection to `host`'s I/O thread, once no write is in flight and its reads
  /// have drained: it leaves one thread's ReadinessSet for the other's, its timers are made anew,
  /// and what was delivered meanwhile waits in the queue. Then every message between the two
  /// is written on the thread that reads it. A closing connection stays where it is.
  void settle_near(const Peer& host) override;

 private:
  /// A frame waiting to be written: its opcode and payload (the payload is shared when a
  /// message fans out). `raw` bytes are written as they are (the 101 answer).
  struct Outgoing {
    SharedText payload;
    ws::Opcode opcode = ws::Opcode::text;
    bool raw = false;
    std::uint8_t header_size = 0;
    std::array<std::uint8_t, ws::kMaxServerHeader> header{};
  };

  enum class Read { drained, more, ended };
  /// One recv into `into`: the bytes read, or Read::drained (it would block) or Read::ended.
  Read receive(char* into, std::size_t size, std::size_t& got);

  /// From the thread's ReadinessSet: reads, or resumes a write that had to wait.
  void on_ready(std::uint32_t events) override;
  /// Waits for the socket's next edge: watched by the thread's ReadinessSet, once per thread.
  void wait_readable();
  /// Reads until the socket is drained (or yields to the thread's other connections).
  void on_readable();
  /// Out of the thread's ReadinessSet: before the socket closes or changes threads.
  void stop_watching();
  /// One read into this thread's buffer; a frame left incomplete moves to partial_.
  Read read_into_thread_buffer();
  /// One read behind the piece of a frame already in partial_.
  Read read_into_partial();
  /// The peer is alive: keepalive starts counting again.
  void heard();
  /// Parses and handles every whole frame in `unread` (unmasking in place); returns the bytes
  /// used. Once the close has begun, everything is used: input is only drained.
  std::size_t consume(std::span<char> unread);
  void on_text(std::string_view text);

  /// Queues a control frame (a pong or a ping); returns false once the close is queued.
  void enqueue_control(ws::Opcode opcode, std::string payload);
  /// Writes what is queued as one batch, or stops writing when nothing is; a socket that
  /// would block takes the rest on the set's next writable edge.
  void do_write();
  /// What a write does next, once the thread's other work of the moment is done.
  enum class WriteStep { start, complete_batch };
  /// Runs `step` at the end of the round of the set serving `executor` when this thread is
  /// in it (the usual case: a message from a room member on the same thread), else in a
  /// handler posted there. Either way, what the thread's other work of the moment delivers
  /// to this connection joins the write.
  void write_soon(const boost::asio::any_io_executor& executor, WriteStep step);
  void on_round_end() override;
  /// start: writes what is queued. complete_batch: ends the batch that is out, then writes
  /// what came meanwhile.
  void take_step(WriteStep step);
  /// Sends what is left of batch_; true once all of it is out, false when the socket would
  /// block or failed (then the connection ends).
  bool send_batch();
  /// The socket would not take the rest of a batch before: it may now.
  void on_writable();
  /// batch_ is out; false when it ended our side of the stream (it held our close frame).
  bool batch_sent();
  /// The socket refused a write: the connection ends.
  void write_failed();

  void arm_keepalive(std::chrono::steady_clock::time_point at);
  void on_keepalive(boost::system::error_code ec);

  /// Stops accepting messages and closes with `code`; with `flush`, after the queue drains.
  void start_close(CloseCode code, std::string_view reason, bool flush);
  /// What becomes of the frames queued when the close begins.
  enum class Queued { send_first, drop };
  /// Queues our close frame (own thread): the start of the close handshake.
  void begin_close(std::uint16_t code, const std::string& reason, Queued queued);
  /// The peer sent a close frame: answer it (unless ours went out already) and end.
  void on_peer_close(std::uint16_t code);
  /// Drops every queued frame; mutex_ held.
  void clear_queue();
  void finish();

  /// The I/O thread this connection runs on now (any thread).
  boost::asio::any_io_executor executor() const;
  /// Runs `work` on this connection's thread, following it if it moves meanwhile.
  void on_own_thread(std::function<void()> work);
  /// Begins the move settle_near asked for, if nothing is in the way now; do_write's idle
  /// point calls it again.
  void try_move();
  /// The socket and timers change threads (old thread; reads drained, no wait pending).
  void complete_move();
  /// Back to normal service where the connection is, when it cannot move after all.
  void abandon_move();
  /// First handler on the new thread: resumes writing, the keepalive and reading.
  void on_moved();
  /// Leaves the hub (and so every room) once; own thread only.
  void leave_hub();

  int fd_;  // the connection's socket, ours to close (-1 once closed)
  boost::asio::steady_timer keepalive_;
  boost::asio::steady_timer close_guard_;
  ServerContext& ctx_;
  std::unique_ptr<ConnectionLimiter::Slot> slot_;
  ws::FrameReader reader_;
  std::string partial_;  // unread bytes of a frame not yet whole (empty, and freed, when idle)
  TokenBucket rate_;
  TokenBucket strikes_;  // how many rate-limited messages we tolerate before closing

  // Own thread only.
  std::chrono::steady_clock::time_point last_heard_;
  bool ping_sent_ = false;             // a keepalive ping is unanswered
  bool close_begun_ = false;           // our close frame is queued: what arrives now is discarded
  bool close_sent_ = false;            // our close frame has been written
  bool connected_ = false;             // registered with the hub
  bool finished_ = false;              // the connection has ended
  bool waiting_ = false;               // drained, and watched for the next edge
  bool hung_up_ = false;               // the set saw the peer's end of stream, or an error
  bool read_posted_ = false;           // on_readable is posted: the read chain goes on there
  ReadinessSet* readiness_ = nullptr;  // the set of this connection's thread
  std::optional<ReadinessSet::Token> watch_token_;  // while watched there
  bool moving_ = false;                             // changing threads: writes held, reads ending
  std::weak_ptr<const WsSession> move_near_;        // the host settle_near asked to join
  std::vector<Outgoing> batch_;                     // the frames being written
  std::vector<iovec> iov_;  // and their bytes; those before iov_next_ are sent
  std::size_t iov_next_ = 0;
  bool write_blocked_ = false;               // batch_ waits for the socket to take more
  WriteStep round_step_ = WriteStep::start;  // for on_round_end (one is queued at a time)

  mutable std::mutex mutex_;  // guards the queue and what follows; deliver() comes from any thread
  boost::asio::any_io_executor executor_;  // this connection's thread: changed on it, under mutex_
  std::vector<Outgoing> queue_;
  std::size_t queued_messages_ = 0;         // text messages in queue_ (what the limit counts)
  std::optional<std::size_t> queued_pong_;  // where in queue_ the one waiting pong is
  bool writing_ = false;              // a write is in flight, or held while the connection moves
  std::atomic<bool> closing_{false};  // no more deliveries accepted (set under mutex_)
  bool close_queued_ = false;         // the close frame is queued: nothing may follow it
};

}  // namespace switchboard
