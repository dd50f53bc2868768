// What `/status` shows of the requests already answered: the last ones, and
// totals per model. Kept by the service across reloads, as its metrics are.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace proxy {

struct exchange_summary;

/// Thread-safe; fed where a `/v1/messages` exchange is logged.
class status_board {
public:
    /// How many finished exchanges recent() keeps.
    static constexpr std::size_t recent_capacity = 50;
    /// Model names come from clients (an unmapped name goes upstream as sent):
    /// past this many, the rest are counted under `other_models`.
    static constexpr std::size_t max_models = 100;
    static constexpr const char* other_models = "(other models)";

    /// One exchange as the page lists it (in its columns' order): never a body.
    struct finished_exchange {
        std::chrono::system_clock::time_point ended;
        std::string request_id;
        std::string client_model;
        std::string upstream_model;
        bool stream = false;
        int status = 0;
        std::chrono::steady_clock::duration took{};
        std::uint64_t tokens_in = 0;
        std::uint64_t tokens_out = 0;
        std::string notes;  ///< the conversion's warnings, joined by "; ", at most max_notes_chars
    };
    static constexpr std::size_t max_notes_chars = 600;

    /// Totals for one upstream model.
    struct model_totals {
        std::string model;
        std::uint64_t requests = 0;
        std::uint64_t failed = 0;  ///< answered with a status of 400 or more
        std::uint64_t tokens_in = 0;
        std::uint64_t tokens_out = 0;
        std::uint64_t tokens_cache_read = 0;
    };

    /// `ended`: the wall-clock time the exchange finished.
    void observe_exchange(const exchange_summary& summary,
                          std::chrono::system_clock::time_point ended = std::chrono::system_clock::now());

    /// The last recent_capacity exchanges, newest first.
    std::vector<finished_exchange> recent() const;
    /// Every model seen, by name.
    std::vector<model_totals> models() const;

private:
    mutable std::mutex mutex_;
    std::deque<finished_exchange> recent_;  // oldest first
    std::map<std::string, model_totals, std::less<>> models_;
};

}  // namespace proxy
