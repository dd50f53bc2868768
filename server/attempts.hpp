// The attempt loop: keys, retries, and the one moment an upstream answer
// commits. Used by both the streaming and the non-streaming handler.
// SPDX-License-Identifier: MIT
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgbridge/error.hpp>
#include <msgbridge/keys.hpp>

#include "redacting_log.hpp"
#include "self_healing.hpp"
#include "upstream.hpp"

namespace proxy {

/// Where the attempts go; shared by every request.
struct upstream_target {
    upstream_transport& transport;
    msgbridge::key_pool* keys = nullptr;  ///< null or empty: one attempt per try, no rotation
    std::string host;                     ///< the upstream's host, for error messages
    const redacting_log& log;             ///< a key taken out of service is logged here
};

/// How a handler takes part in the attempts.
struct attempt_hooks {
    /// A 2xx answer's headers arrived. Return false to refuse it (abort).
    std::function<bool()> on_commit;
    /// Body bytes of the committed answer. Return false to abort.
    std::function<bool(std::string_view)> on_body;
    /// What the proxy learned about upstream models; null: no self-healing.
    healing_memory* healing = nullptr;
    /// The model the request names upstream, as the fixes are remembered.
    std::string_view upstream_model;
};

/// How the attempts ended.
struct attempt_result {
    bool committed = false;
    upstream_outcome last;            ///< how the last attempt ended
    msgbridge::error error;           ///< when !committed: what the client gets
    std::optional<long> retry_after;  ///< seconds, for a 429 answer
    std::vector<std::string> attempts;  ///< "nvapi-…k001:429", "…:400 healed=drop:top_k", for the log
};

/// Tries keys until an answer commits or the rules say stop (docs/server.md):
/// 429 and 401/403 move to the next key (at most five attempts in all), a
/// connection failure or 5xx is retried once after a short pause, an error
/// recognise_fix knows is retried once with the fix applied (docs/models.md),
/// anything else is final. Fixes learned for the model before are applied to
/// the first attempt already. Keys that all answered the same 401 or 403 stay in
/// service, and an upstream 401 is answered as a 502: it is about the
/// proxy's keys, not the client's. Nothing here has reached the client yet.
attempt_result run_attempts(const upstream_target& target, std::string_view request_id, const upstream_request& base,
                            cancel_handle& cancel, const attempt_hooks& hooks);

/// The upstream refused (404, or 400/422 naming the model) a `claude…` name
/// that no mapping changed: the client's error then says how to map it.
void explain_unmapped_model(attempt_result& result, std::string_view client_model, std::string_view upstream_model);

/// The model said nothing (no text, no tool call) after a stop: the client's
/// api_error, once the one more ask is spent (`asked_twice`) or impossible.
msgbridge::error empty_answer_error(bool asked_twice);

/// "completed", "timeout", "connect-failed", …: an outcome as the log names it.
std::string_view outcome_name(upstream_outcome::kind kind);

}  // namespace proxy
