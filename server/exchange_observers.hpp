// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "metrics.hpp"
#include "redacting_log.hpp"
#include "settings_generation.hpp"
#include "status_board.hpp"

namespace proxy {

/// Where a finished `/v1/messages` exchange is reported, streamed or not:
/// its summary line, its metrics, and /status's list of recent exchanges.
/// Both outlive every exchange (members of the service).
struct exchange_observers {
    metrics& counters;
    status_board& board;

    void finished(const settings_generation& settings, const exchange_summary& summary,
                  const std::vector<std::string>& attempts) const {
        settings.log.exchange(summary, attempts);
        counters.observe_exchange(summary);
        board.observe_exchange(summary);
    }
};

}  // namespace proxy
