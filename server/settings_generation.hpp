// What the service derives from one configuration, replaced whole on reload.
// SPDX-License-Identifier: MIT
#pragma once

#include <memory>

#include <msgbridge/keys.hpp>
#include <msgbridge/request.hpp>

#include "attempts.hpp"
#include "config.hpp"
#include "converter_pool.hpp"
#include "log.hpp"
#include "redacting_log.hpp"
#include "redis_key_share.hpp"
#include "upstream.hpp"
#include "upstream_models.hpp"

namespace proxy {

/// One configuration and everything built from it. Never changed once built:
/// a reload builds the next generation beside it, and each request holds the
/// generation it started with until it ends, so a running stream finishes on
/// the settings (upstream, keys, timeouts) it began with. The last request
/// to let go of an old generation destroys it.
struct settings_generation {
    /// `previous`: the generation this one replaces, null at start. The keys
    /// both hold keep their cooldowns and quarantines, and the previous keys
    /// stay redacted (a removed key may still show in an upstream's message).
    /// Throws `config_error` for an upstream URL parse_upstream_url refuses.
    settings_generation(const config& settings, std::shared_ptr<upstream_transport> upstream, const logger& sink,
                        const settings_generation* previous = nullptr);
    settings_generation(const settings_generation&) = delete;
    settings_generation& operator=(const settings_generation&) = delete;

    const config cfg;
    const std::shared_ptr<upstream_transport> transport;
    const redacting_log log;  ///< redacts the upstream keys and SERVER_API_KEY from every line
    /// REDIS_URL's connection, null without one; kept across reloads that leave REDIS_URL alone.
    const std::shared_ptr<redis_key_share> shared_state;
    // Thread-safe, and used through a const generation: mutable.
    mutable msgbridge::key_pool keys;
    mutable converter_pool<msgbridge::request_converter> request_converters;
    const upstream_target upstream;
    mutable upstream_model_cache upstream_models;  ///< the upstream's own models, for GET /v1/models
};

}  // namespace proxy
