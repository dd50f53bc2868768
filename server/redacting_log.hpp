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

    void line(std::string text) const { sink_.line(redact_secrets(std::move(text), secrets_)); }

    /// The plain logger, for lines made without request data.
    [[nodiscard]] const logger& sink() const { return sink_; }
    [[nodiscard]] const std::vector<std::string>& secrets() const { return secrets_; }

private:
    logger sink_;
    std::vector<std::string> secrets_;
};

}  // namespace proxy
