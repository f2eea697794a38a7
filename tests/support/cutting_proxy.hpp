#pragma once

#include <cstdint>
#include <memory>

namespace switchboard::test {

/// A TCP proxy on 127.0.0.1 between test clients and the daemon that can cut every connection
/// through it at once, both directions, without a close frame and without delivering what
/// it holds in flight: a network that fails (Wi-Fi to cellular, a NAT timeout), not a client
/// that says goodbye. Runs its own thread; stops on destruction.
class CuttingProxy {
 public:
  explicit CuttingProxy(std::uint16_t target_port);
  ~CuttingProxy();
  CuttingProxy(const CuttingProxy&) = delete;
  CuttingProxy& operator=(const CuttingProxy&) = delete;

  std::uint16_t port() const;
  /// Cuts every open connection (a reset on both sides); returns how many it cut. New
  /// connections are accepted as before.
  std::size_t cut_all();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::test
