// SPDX-License-Identifier: MIT
#pragma once

// max_tokens against the profile's limits. The input-token estimate it
// leaves room for is counted while walking (estimate_counters in
// request_state.hpp: ~4 bytes a token, 4 a message, 1600 an image or PDF).

#include <algorithm>
#include <cstdint>
#include <string>

#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline void request_engine::write_max_tokens(converted_request& out, std::uint64_t estimate) {
    std::uint64_t limit = max_tokens_;
    std::string reason;
    if (profile_->max_output_tokens && limit > *profile_->max_output_tokens) {
        limit = *profile_->max_output_tokens;
        reason = "the output cap";
    }
    if (profile_->context_window) {
        // vLLM-style servers reject prompt + max_tokens > context window.
        const std::uint64_t window = *profile_->context_window;
        const std::uint64_t room = window > estimate ? window - estimate : 0;
        const std::uint64_t floor = std::min<std::uint64_t>(limit, 1024);
        if (limit > room) {
            limit = std::max(room, floor);
            reason = "the context window minus the estimated input";
        }
    }
    if (limit != max_tokens_) {
        warn("max_tokens: " + std::to_string(max_tokens_) + " lowered to " + std::to_string(limit) + " (" + reason +
             " of profile \"" + profile_->match + "\")");
    }
    out.max_tokens = limit;
    if (emit("max_tokens")) {
        top_.key("max_tokens");
        top_.uint64(limit);
    }
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
