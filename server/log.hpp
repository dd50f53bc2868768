// One-line logging to stderr, and the redaction applied before anything
// reaches it.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace proxy {

/// Where log lines go; stderr by default. Tests capture lines here.
using log_sink = std::function<void(std::string_view line)>;

/// Writes lines whole (one write per line, under a lock) with a UTC timestamp.
class logger {
public:
    logger();
    explicit logger(log_sink sink);
    void line(std::string_view text) const;

private:
    log_sink sink_;
};

/// Replaces every occurrence of each secret with `msgbridge::redact_key` of it.
std::string redact_secrets(std::string text, const std::vector<std::string>& secrets);

/// A request body made fit for a log: base64 image data replaced by its
/// length, secrets redacted, cut to `max_chars` (0: empty).
std::string body_for_log(std::string_view body, std::size_t max_chars, const std::vector<std::string>& secrets);

/// Text cut to at most `max_chars` bytes on a UTF-8 boundary, newlines escaped.
std::string preview_text(std::string_view text, std::size_t max_chars);

}  // namespace proxy
