// The service's log: every line it writes is redacted first.
// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "log.hpp"

namespace proxy {

/// A logger that replaces the upstream keys and the server's own key in
/// every line with their redacted ids. A key can reach a line through an
/// upstream's error message or a client's body, so no line is exempt.
class redacting_log {
public:
    redacting_log(logger sink, std::vector<std::string> secrets)
        : sink_(std::move(sink)), secrets_(std::move(secrets)) {}

    void line(std::string text, log_level level = log_level::info) const {
        if (sink_.enabled(level)) sink_.line(redact_secrets(std::move(text), secrets_), level);
    }

    /// The summary of one `/v1/messages` exchange, in the logger's format.
    void exchange(const exchange_summary& summary, const std::vector<std::string>& attempts) const {
        write_summary(summary.status, [&] { return summary_line(summary, attempts); },
                      [&] { return summary_json_members(summary, attempts); });
    }

    /// The summary of any other request, in the logger's format.
    void request(const request_summary& summary) const {
        write_summary(summary.status, [&] { return summary_line(summary); }, [&] { return summary_json_members(summary); });
    }

    /// The plain logger, for lines made without request data.
    [[nodiscard]] const logger& sink() const { return sink_; }
    [[nodiscard]] const std::vector<std::string>& secrets() const { return secrets_; }

private:
    // Only the form the logger writes is made, and only when its level is on.
    template <typename TextForm, typename JsonForm>
    void write_summary(int status, const TextForm& text, const JsonForm& json) const {
        const log_level level = level_for_status(status);
        if (!sink_.enabled(level)) return;
        if (sink_.format() == log_format::json) sink_.fields(level, {}, redact_secrets(json(), secrets_));
        else sink_.line(redact_secrets(text(), secrets_), level);
    }

    logger sink_;
    std::vector<std::string> secrets_;
};

}  // namespace proxy
