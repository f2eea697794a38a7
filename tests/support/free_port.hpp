#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace switchboard::test {

/// A loopback port nobody is listening on now. The server a fixture starts binds it a moment
/// later; a clash makes that start fail, and the fixture tries another.
inline std::uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}

/// Sets `port` to a free port and calls `start` (which binds it, or throws
/// std::runtime_error), trying another port when the start fails: someone may take the port
/// between the pick and the bind. The fifth failure is thrown.
template <class Start>
void start_on_free_port(std::uint16_t& port, Start start) {
  for (int attempt = 0;; ++attempt) {
    port = free_port();
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 4) throw;
    }
  }
}

}  // namespace switchboard::test
