// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// When one key rests, as every process sharing it sees it: milliseconds since
/// the Unix epoch (steady clocks differ between processes), 0 for "not resting".
struct shared_key_state {
    std::int64_t cooling_until_ms = 0;      ///< after a 429
    std::int64_t quarantined_until_ms = 0;  ///< after a 401/403
};

/// What a `key_pool` reads from its share before choosing a key.
struct shared_key_view {
    /// The round-robin cursor, advanced by one for this acquire: processes
    /// that share it take turns instead of all starting at key 0.
    std::uint64_t cursor = 0;
    std::vector<shared_key_state> keys;  ///< in the order of the ids asked for
};

/// The answer to `key_state_share::take_pacing_slot`.
struct shared_pacing_slot {
    bool granted = false;
    std::int64_t free_at_ms = 0;  ///< refused: when the key's window has room again (epoch ms)
};

/// State several `key_pool`s — usually in several processes — hold in common,
/// so that a key rate limited through one of them rests in all, and a per-key
/// budget holds across all of them (the proxy's implementation: Redis). Keys
/// are named by `key_pool::share_id`, never in clear.
///
/// Every call may come from any thread at once. A call that cannot answer
/// within a short deadline returns `nullopt`/`false` ("unavailable"): the pool
/// then goes on with what it knows locally, so a slow or absent share delays a
/// request by at most that deadline. The pool never calls it with its mutex held.
/// See docs/keys.md#sharing-state-between-processes.
class key_state_share {
public:
    virtual ~key_state_share() = default;

    /// Advances the cursor and reads the state of `ids`.
    [[nodiscard]] virtual std::optional<shared_key_view> view(const std::vector<std::string>& ids) = 0;

    /// Raises the key's resting times to `state` where they are later than
    /// what is stored; never lowers them.
    virtual bool raise(std::string_view id, const shared_key_state& state) = 0;

    /// Ends the key's quarantine (`key_pool::lift_quarantine`).
    virtual bool lift_quarantine(std::string_view id) = 0;

    /// Atomically: grants a slot when fewer than `per_minute` were granted for
    /// `id` in the minute before `now_ms`, and records it. Two callers never
    /// both get the last slot of a window.
    [[nodiscard]] virtual std::optional<shared_pacing_slot> take_pacing_slot(std::string_view id,
                                                                           std::uint32_t per_minute,
                                                                           std::int64_t now_ms) = 0;
};

MSGBRIDGE_END_NAMESPACE
