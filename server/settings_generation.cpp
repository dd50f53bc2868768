// SPDX-License-Identifier: MIT
#include "settings_generation.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace proxy {
namespace {

std::vector<std::string> secrets_of(const config& cfg, const settings_generation* previous) {
    std::vector<std::string> secrets = cfg.keys;
    if (!cfg.server_api_key.empty()) secrets.push_back(cfg.server_api_key);
    if (previous == nullptr) return secrets;
    // Only the previous generation's own secrets: the list does not grow with every reload.
    for (const std::string& old : secrets_of(previous->cfg, nullptr))
        if (std::find(secrets.begin(), secrets.end(), old) == secrets.end()) secrets.push_back(old);
    return secrets;
}

msgbridge::key_pool_options key_options_of(const config& cfg) {
    msgbridge::key_pool_options options;
    options.strategy = cfg.key_rotation;
    options.retry_after_cap = std::chrono::seconds(cfg.max_retry_after_seconds);
    options.auth_quarantine_base = std::chrono::seconds(cfg.auth_quarantine_base_seconds);
    options.auth_quarantine = std::chrono::seconds(cfg.auth_quarantine_max_seconds);
    return options;
}

}  // namespace

settings_generation::settings_generation(const config& settings, std::shared_ptr<upstream_transport> upstream,
                                         const logger& sink, const settings_generation* previous)
    : cfg(settings),
      transport(std::move(upstream)),
      log(sink, secrets_of(cfg, previous)),
      keys(cfg.keys, key_options_of(cfg)),
      request_converters(cfg.request),
      upstream{*transport, &keys, parse_upstream_url(cfg.upstream_url).authority, log},
      upstream_models(this->upstream, upstream_models_path(cfg.upstream_url)) {
    // What requests still running on `previous` report from now on stays
    // there: at worst a key earns its cooldown once more in this pool.
    if (previous != nullptr) keys.carry_over_state(previous->keys);
}

}  // namespace proxy
