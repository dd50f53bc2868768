// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgbridge/error.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE

/// How the next key is chosen: `round_robin` (default), `random`, `least_used`.
enum class rotation { round_robin, random, least_used };

/// Parses the wire spelling (`round_robin`, `random`, `least_used`).
[[nodiscard]] result<rotation> parse_rotation(std::string_view name);

/// `nvapi-…3f9a`: enough to tell keys apart in logs, never the key.
[[nodiscard]] std::string redact_key(std::string_view key);

// The key pool's API (key_pool, lease, outcomes, options) is declared here
// by the key-policy work; see docs/keys.md.

MSGBRIDGE_END_NAMESPACE
