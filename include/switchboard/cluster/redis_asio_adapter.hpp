#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/strand.hpp>
#include <memory>

struct redisAsyncContext;

namespace switchboard {

/// Drives one hiredis redisAsyncContext from Asio: hiredis asks to watch its socket for reads
/// or writes (addRead/delRead/addWrite/delWrite) and we answer with async_wait on a
/// stream_descriptor over that socket, calling redisAsyncHandleRead/Write on the strand when
/// it is ready. hiredis owns the fd: cleanup releases it from the descriptor, never closes it.
///
/// One adapter per connection. Wait handlers keep the adapter alive and run only while
/// `owner` (the client whose callbacks hiredis calls through ac->data) is alive.
class RedisAsioAdapter : public std::enable_shared_from_this<RedisAsioAdapter> {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;

  /// Hooks `ac`'s event callbacks to a new adapter; call on the strand, before anything that
  /// makes hiredis ask for events (setting the connect callback asks for a write).
  static std::shared_ptr<RedisAsioAdapter> attach(Strand strand, redisAsyncContext* ac,
                                                  std::weak_ptr<void> owner);
  ~RedisAsioAdapter();

  RedisAsioAdapter(Strand strand, redisAsyncContext* ac, std::weak_ptr<void> owner);
  RedisAsioAdapter(const RedisAsioAdapter&) = delete;
  RedisAsioAdapter& operator=(const RedisAsioAdapter&) = delete;

 private:
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);

  void wait_read();
  void wait_write();

  boost::asio::posix::stream_descriptor socket_;
  redisAsyncContext* ac_;  // null once hiredis has cleaned up
  std::weak_ptr<void> owner_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
};

}  // namespace switchboard
