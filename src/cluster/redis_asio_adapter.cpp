#include "switchboard/cluster/redis_asio_adapter.hpp"

#include <hiredis/async.h>

#include <boost/asio/bind_executor.hpp>

namespace switchboard {

namespace asio = boost::asio;

std::shared_ptr<RedisAsioAdapter> RedisAsioAdapter::attach(Strand strand, redisAsyncContext* ac,
                                                           std::weak_ptr<void> owner) {
  auto adapter = std::make_shared<RedisAsioAdapter>(std::move(strand), ac, std::move(owner));
  // hiredis keeps a raw pointer: the client keeps the shared_ptr for as long as the context
  // lives, and the context's cleanup hook is the last call hiredis makes through it.
  ac->ev.data = adapter.get();
  ac->ev.addRead = &RedisAsioAdapter::add_read;
  ac->ev.delRead = &RedisAsioAdapter::del_read;
  ac->ev.addWrite = &RedisAsioAdapter::add_write;
  ac->ev.delWrite = &RedisAsioAdapter::del_write;
  ac->ev.cleanup = &RedisAsioAdapter::cleanup;
  return adapter;
}

RedisAsioAdapter::RedisAsioAdapter(Strand strand, redisAsyncContext* ac, std::weak_ptr<void> owner)
    : socket_(std::move(strand), ac->c.fd), ac_(ac), owner_(std::move(owner)) {}

RedisAsioAdapter::~RedisAsioAdapter() {
  // hiredis closes the fd; the descriptor must not close it a second time.
  if (socket_.is_open()) socket_.release();
}

void RedisAsioAdapter::add_read(void* self) {
  auto* a = static_cast<RedisAsioAdapter*>(self);
  a->want_read_ = true;
  a->wait_read();
}

void RedisAsioAdapter::del_read(void* self) {
  static_cast<RedisAsioAdapter*>(self)->want_read_ = false;
}

void RedisAsioAdapter::add_write(void* self) {
  auto* a = static_cast<RedisAsioAdapter*>(self);
  a->want_write_ = true;
  a->wait_write();
}

void RedisAsioAdapter::del_write(void* self) {
  static_cast<RedisAsioAdapter*>(self)->want_write_ = false;
}

void RedisAsioAdapter::cleanup(void* self) {
  auto* a = static_cast<RedisAsioAdapter*>(self);
  a->ac_ = nullptr;
  a->want_read_ = a->want_write_ = false;
  // Deregisters the fd from the reactor (pending waits complete with operation_aborted) and
  // leaves it open for hiredis to close right after this hook returns.
  if (a->socket_.is_open()) a->socket_.release();
}

// A wait whose interest was withdrawn (delRead) is left to complete and then ignored: a
// descriptor cannot cancel only its read wait, and one spurious wake-up costs nothing.
void RedisAsioAdapter::wait_read() {
  if (read_waiting_ || !want_read_ || !ac_) return;
  read_waiting_ = true;
  socket_.async_wait(asio::posix::descriptor_base::wait_read,
                     asio::bind_executor(socket_.get_executor(),
                                         [self = shared_from_this(), owner = owner_](auto ec) {
                                           auto keep = owner.lock();
                                           if (!keep) return;
                                           self->read_waiting_ = false;
                                           if (ec || !self->ac_ || !self->want_read_) return;
                                           // May run reply callbacks, and may free the context
                                           // (cleanup above).
                                           redisAsyncHandleRead(self->ac_);
                                           self->wait_read();
                                         }));
}

void RedisAsioAdapter::wait_write() {
  if (write_waiting_ || !want_write_ || !ac_) return;
  write_waiting_ = true;
  socket_.async_wait(asio::posix::descriptor_base::wait_write,
                     asio::bind_executor(socket_.get_executor(),
                                         [self = shared_from_this(), owner = owner_](auto ec) {
                                           auto keep = owner.lock();
                                           if (!keep) return;
                                           self->write_waiting_ = false;
                                           if (ec || !self->ac_ || !self->want_write_) return;
                                           redisAsyncHandleWrite(self->ac_);
                                           self->wait_write();
                                         }));
}

}  // namespace switchboard
