// SPDX-License-Identifier: MIT
#include "settings_generation.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace proxy {
namespace {

std::vector<std::string> secrets_of(const config& cfg, const settings_generation* previous) {
    std::vector<std::string> secrets = cfg.keys;
    if (!cfg.server_api_key.empty()) secrets.push_back(cfg.server_api_key);
    if (!cfg.redis_url.empty()) {
        std::string redis_password = parse_redis_url(cfg.redis_url).password;
        if (!redis_password.empty()) secrets.push_back(std::move(redis_password));
    }
    if (previous == nullptr) return secrets;
    // Only the previous generation's own secrets: the list does not grow with every reload.
    for (const std::string& old : secrets_of(previous->cfg, nullptr))
        if (std::find(secrets.begin(), secrets.end(), old) == secrets.end()) secrets.push_back(old);
    return secrets;
}

std::shared_ptr<redis_key_share> shared_state_of(const config& cfg, const logger& sink,
                                                 const settings_generation* previous) {
    if (cfg.redis_url.empty()) return nullptr;
    // A reload keeps the connection, and the outage it may be in, when REDIS_URL stays.
    if (previous != nullptr && previous->cfg.redis_url == cfg.redis_url) return previous->shared_state;
    return std::make_shared<redis_key_share>(parse_redis_url(cfg.redis_url), sink);
}

msgbridge::key_pool_options key_options_of(const config& cfg, std::shared_ptr<redis_key_share> shared_state) {
    msgbridge::key_pool_options options;
    options.share = std::move(shared_state);
    options.strategy = cfg.key_rotation;
    options.retry_after_cap = std::chrono::seconds(cfg.max_retry_after_seconds);
    options.auth_quarantine_base = std::chrono::seconds(cfg.auth_quarantine_base_seconds);
    options.auth_quarantine = std::chrono::seconds(cfg.auth_quarantine_max_seconds);
    options.requests_per_minute = cfg.key_rpm;
    // The overrides stand beside their keys in nvidia_keys: they count only when those are the keys in use.
    if (cfg.keys_from == key_source::nvidia_keys) options.key_requests_per_minute = cfg.key_sources.nvidia_key_rpm;
    return options;
}

}  // namespace

settings_generation::settings_generation(const config& settings, std::shared_ptr<upstream_transport> upstream,
                                         const logger& sink, const settings_generation* previous)
    : cfg(settings),
      transport(std::move(upstream)),
      log(sink, secrets_of(cfg, previous)),
      shared_state(shared_state_of(cfg, sink, previous)),
      keys(cfg.keys, key_options_of(cfg, shared_state)),
      request_converters(cfg.request),
      upstream{*transport, &keys, parse_upstream_url(cfg.upstream_url).authority, log},
      upstream_models(this->upstream, upstream_models_path(cfg.upstream_url)) {
    // What requests still running on `previous` report from now on stays
    // there: at worst a key earns its cooldown once more in this pool.
    if (previous != nullptr) keys.carry_over_state(previous->keys);
}

}  // namespace proxy
