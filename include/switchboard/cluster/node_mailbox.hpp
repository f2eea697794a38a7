#pragma once

#include <functional>
#include <memory>
#include <string>

#include "switchboard/cluster/cluster_envelope.hpp"
#include "switchboard/cluster/redis_client.hpp"

namespace switchboard {

/// One daemon's end of the cluster's channels: it subscribes to its own inbox
/// (`sb:inbox:<node>`) and to `sb:broadcast` (what every node must hear, such as a key
/// revocation), decodes each envelope and hands it on. Posting goes through the command
/// connection: everything one node posts to one inbox arrives there in the order posted
/// (one connection, and Redis delivers a channel's messages in publish order).
///
/// The subscriber client is this mailbox's own (Redis takes only subscription commands on
/// it); it is given unstarted and started here. Handlers run on the subscriber's strand.
class NodeMailbox {
 public:
  using Handler = std::function<void(ClusterEnvelope)>;
  /// An envelope that did not decode (a bug, or daemons of different versions): the bytes'
  /// size and why, for a log line; the envelope is dropped.
  using BadHandler = std::function<void(std::size_t size, const std::string& why)>;

  NodeMailbox(std::shared_ptr<RedisClient> subscriber, std::shared_ptr<RedisClient> commands,
              std::string node_id);

  /// Set before start().
  void on_envelope(Handler h) { on_envelope_ = std::move(h); }
  void on_bad_envelope(BadHandler h) { on_bad_ = std::move(h); }
  /// Called each time the subscriptions are (re)confirmed: after a reconnect, envelopes
  /// published while the subscriber was down are lost (pub/sub keeps nothing), and the owner
  /// must bring its state back in line.
  void on_subscribed(std::function<void()> h) { on_subscribed_ = std::move(h); }

  void start();
  void stop();

  /// Publishes `e` to `node`'s inbox; done (optional) gets how many subscribers heard it.
  void post(const std::string& node, const ClusterEnvelope& e,
            RedisClient::Callback done = nullptr);
  /// Publishes `e` to every node (this one included).
  void broadcast(const ClusterEnvelope& e, RedisClient::Callback done = nullptr);

 private:
  void publish(std::string channel, const ClusterEnvelope& e, RedisClient::Callback done);

  std::shared_ptr<RedisClient> subscriber_;
  std::shared_ptr<RedisClient> commands_;
  std::string node_;
  std::string inbox_;
  Handler on_envelope_;
  BadHandler on_bad_;
  std::function<void()> on_subscribed_;
};

}  // namespace switchboard
