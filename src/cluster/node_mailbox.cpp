#include "switchboard/cluster/node_mailbox.hpp"

#include "switchboard/cluster/redis_keys.hpp"

namespace switchboard {

NodeMailbox::NodeMailbox(std::shared_ptr<RedisClient> subscriber,
                         std::shared_ptr<RedisClient> commands, std::string node_id)
    : subscriber_(std::move(subscriber)),
      commands_(std::move(commands)),
      node_(std::move(node_id)),
      inbox_(redis_keys::inbox_channel(node_)) {}

void NodeMailbox::start() {
  // The handlers are copied into the client's: the mailbox may go before its client.
  subscriber_->on_message([inbox = inbox_, on_envelope = on_envelope_, on_bad = on_bad_,
                           on_subscribed = on_subscribed_](const RedisPubSubEvent& e) {
    if (e.kind == RedisPubSubEvent::Kind::subscribed) {
      // Both channels are confirmed on every (re)connect; the inbox's stands for both.
      if (e.channel == inbox && on_subscribed) on_subscribed();
      return;
    }
    auto decoded = decode_envelope(e.payload);
    if (!decoded) {
      if (on_bad) on_bad(e.payload.size(), decoded.error());
      return;
    }
    if (on_envelope) on_envelope(std::move(decoded.value()));
  });
  subscriber_->subscribe(inbox_);
  subscriber_->subscribe(redis_keys::kBroadcast);
  subscriber_->start();
}

void NodeMailbox::stop() {
  subscriber_->stop();
}

void NodeMailbox::publish(std::string channel, const ClusterEnvelope& e,
                          RedisClient::Callback done) {
  commands_->command({"PUBLISH", std::move(channel), encode_envelope(e)},
                     [done = std::move(done)](RedisClient::Reply r) {
                       if (done) done(std::move(r));
                     });
}

void NodeMailbox::post(const std::string& node, const ClusterEnvelope& e,
                       RedisClient::Callback done) {
  publish(redis_keys::inbox_channel(node), e, std::move(done));
}

void NodeMailbox::broadcast(const ClusterEnvelope& e, RedisClient::Callback done) {
  publish(redis_keys::kBroadcast, e, std::move(done));
}

}  // namespace switchboard
