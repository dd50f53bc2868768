// One-line logging to stderr, and the redaction applied before anything
// reaches it.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
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

/// Appends `text` with control bytes (CR, LF, tab, the rest of C0, DEL)
/// written as `\n`, `\r`, `\t`, `\xNN`: a log line stays one line whatever a
/// client or an upstream put in it. logger::line applies it to every line.
void append_escaped_controls(std::string_view text, std::string& out);

/// Replaces every occurrence of each secret with `msgbridge::redact_key` of it.
std::string redact_secrets(std::string text, const std::vector<std::string>& secrets);

/// A request body made fit for a log: base64 image data replaced by its
/// length, secrets redacted, cut to `max_chars` (0: empty).
std::string body_for_log(std::string_view body, std::size_t max_chars, const std::vector<std::string>& secrets);

/// Text cut to at most `max_chars` bytes on a UTF-8 boundary, newlines escaped.
std::string preview_text(std::string_view text, std::size_t max_chars);

/// What the one line logged for each `/v1/messages` exchange says (docs/server.md, "Logging").
struct exchange_summary {
    std::string_view request_id;
    std::string_view client_model;
    std::string_view upstream_model;
    bool stream = false;
    int status = 0;
    std::uint64_t tokens_in = 0;
    std::uint64_t tokens_out = 0;
    std::uint64_t tokens_cache_read = 0;  ///< input tokens the upstream read from its prompt cache
    std::chrono::steady_clock::time_point started;
    std::optional<std::chrono::steady_clock::time_point> first_byte;  ///< none: nothing reached the client
    std::chrono::steady_clock::time_point finished;
    unsigned pings = 0;
    bool client_disconnected = false;
    bool ended_by_shutdown = false;
    bool started_early = false;
    std::string_view end_note;    ///< why a stream ended early ("idle-timeout", …), empty if it did not
    std::string_view error_body;  ///< the body of an error answer, logged with it
};

/// `req_… POST /v1/messages <model> -> <upstream model> stream=… status=… attempts=[…] tokens_in=… …`,
/// not yet redacted.
std::string summary_line(const exchange_summary& summary, const std::vector<std::string>& attempts);

}  // namespace proxy
