// SPDX-License-Identifier: MIT
#pragma once

// What the request engine left out along the way, reported once per kind at
// the end of the request (left_out_tally in request_state.hpp), so a long
// conversation gives a few warnings, not one per block.

#include <algorithm>
#include <cstddef>
#include <string>

#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/detail/request_text.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline void request_engine::warn_left_out() {
    if (!left_out_.ignored_fields.empty())
        warn("ignored (no upstream equivalent): " + join_names(left_out_.ignored_fields));
    auto& blocks = left_out_.dropped_blocks;
    if (!blocks.empty()) {
        // "document x2, search_result x1": each type once, with its count.
        std::sort(blocks.begin(), blocks.end());
        std::string names;
        for (std::size_t i = 0; i < blocks.size();) {
            std::size_t j = i;
            while (j < blocks.size() && blocks[j] == blocks[i]) ++j;
            if (!names.empty()) names += ", ";
            names += blocks[i] + " x" + std::to_string(j - i);
            i = j;
        }
        warn("content blocks left out (no upstream equivalent): " + names);
    }
    if (left_out_.redacted_dropped > 0)
        warn("redacted_thinking: " + std::to_string(left_out_.redacted_dropped) +
             " block(s) left out (encrypted for Anthropic models only)");
    if (left_out_.images_replaced > 0)
        warn("images: " + std::to_string(left_out_.images_replaced) + " replaced by a text placeholder (profile \"" +
             profile_->match + "\" has no vision)");
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
