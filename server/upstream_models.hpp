// The upstream's own model list (OpenAI's `GET /v1/models` beside
// chat/completions), for the proxy's `GET /v1/models`: fetched when first
// asked for, kept for a while, and never a reason for the listing to fail.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attempts.hpp"

namespace proxy {

/// The models path on the upstream's host for a `…/chat/completions` URL
/// (`https://host/v1/chat/completions` → `/v1/models`); empty for any other
/// URL, which then has no list to fetch.
std::string upstream_models_path(const std::string& upstream_url);

/// The upstream's model ids from its last answer. Thread-safe.
class upstream_model_cache {
public:
    static constexpr std::chrono::seconds default_ttl{600};
    static constexpr std::chrono::seconds default_timeout{5};

    upstream_model_cache(const upstream_target& target, std::string path, std::chrono::seconds ttl = default_ttl,
                         std::chrono::seconds timeout = default_timeout);

    /// The ids last fetched. A list older than the ttl is fetched again first
    /// (at most `timeout`), unless another request is already fetching: that
    /// one waits, the others get the list they would have got before. A
    /// failed fetch keeps the last list (or none), is tried again after the
    /// ttl, and is logged once until a fetch succeeds.
    std::vector<std::string> ids();

private:
    // The ids of one answer, or nothing with `failure` saying why.
    std::optional<std::vector<std::string>> fetch(std::string& failure) const;

    const upstream_target& target_;
    const std::string path_;
    const std::chrono::seconds ttl_;
    const std::chrono::seconds timeout_;

    std::mutex mutex_;
    std::vector<std::string> ids_;
    std::optional<std::chrono::steady_clock::time_point> fetched_at_;  ///< last attempt, good or not
    bool fetching_ = false;
    bool failing_ = false;  ///< the last attempt failed and was logged
};

}  // namespace proxy
