// One-line logging to stderr, and the redaction applied before anything
// reaches it.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace proxy {

/// Where log lines go; stderr by default. Tests capture lines here.
using log_sink = std::function<void(std::string_view line)>;

/// Whole lines to stderr, one write each under a process-wide lock.
log_sink standard_error_sink();

/// How much is logged (LOG_LEVEL): a line is written when its level is at
/// least the logger's. Exchange summaries are `info` when they succeed,
/// `warn` for a 4xx and `error` for a 5xx, so `warn` keeps only what failed.
enum class log_level { debug, info, warn, error };

/// LOG_FORMAT: `text` (a timestamp and the line, as the Go original) or
/// `json` (one object per line; docs/server.md, "Logging").
enum class log_format { text, json };

std::optional<log_level> parse_log_level(std::string_view name) noexcept;
std::optional<log_format> parse_log_format(std::string_view name) noexcept;
std::string_view to_string(log_level level) noexcept;
std::string_view to_string(log_format format) noexcept;

/// Writes lines whole (one write per line, under a lock) with a UTC
/// timestamp. Copies share their level, so a reload that changes LOG_LEVEL
/// reaches every copy at once; the format is fixed at construction.
class logger {
public:
    logger();
    explicit logger(log_sink sink, log_format format = log_format::text, log_level level = log_level::info);

    /// Text form: `<time> <text>`, control bytes escaped. JSON form:
    /// `{"time":…,"level":…,"request_id":…,"msg":…}`; a line that begins with
    /// a request id (`req_…`, as every request's lines do) has it taken out
    /// into `request_id`.
    void line(std::string_view text, log_level level = log_level::info) const;
    /// A line with fields of its own: `text` in the text form; in the JSON
    /// form `json_members`, one or more serialized object members
    /// (`"a":1,"b":"x"`), follow `time` and `level`.
    void fields(log_level level, std::string_view text, std::string_view json_members) const;

    [[nodiscard]] bool enabled(log_level level) const noexcept { return level >= level_->load(std::memory_order_relaxed); }
    [[nodiscard]] log_format format() const noexcept { return format_; }
    [[nodiscard]] log_level level() const noexcept { return level_->load(std::memory_order_relaxed); }
    /// Changes the level of this logger and of every copy of it.
    void set_level(log_level level) const noexcept { level_->store(level, std::memory_order_relaxed); }

private:
    log_sink sink_;
    log_format format_ = log_format::text;
    std::shared_ptr<std::atomic<log_level>> level_;
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

/// Where to cut `text` to keep at most `max_bytes` of it without leaving
/// half a multi-byte UTF-8 character: its size when it fits.
std::size_t utf8_cut(std::string_view text, std::size_t max_bytes);

/// Text cut to at most `max_chars` bytes on a UTF-8 boundary, newlines escaped.
std::string preview_text(std::string_view text, std::size_t max_chars);

/// What the one line logged for each `/v1/messages` exchange says (docs/server.md, "Logging").
struct exchange_summary {
    std::string_view request_id;
    std::string_view client_address;  ///< the client's IP address, as the connection shows it
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
    /// What the conversion left out or changed (logged as the request began); none: nothing.
    const std::vector<std::string>* warnings = nullptr;
};

/// `req_… POST /v1/messages <model> -> <upstream model> stream=… status=… attempts=[…] tokens_in=… …`,
/// not yet redacted.
std::string summary_line(const exchange_summary& summary, const std::vector<std::string>& attempts);

/// The same facts as JSON object members (`"request_id":"req_…","client":…`), for LOG_FORMAT=json.
std::string summary_json_members(const exchange_summary& summary, const std::vector<std::string>& attempts);

/// What the line logged for any other request (and a `/v1/messages`
/// refused before it reached the upstream) says.
struct request_summary {
    std::string_view request_id;
    std::string_view client_address;
    std::string_view method;
    std::string_view path;
    std::string_view route;  ///< the route's pattern (metrics' label), for grouping
    int status = 0;
    std::chrono::steady_clock::duration total{};
    std::string_view error_body;  ///< the body of an error answer, logged with it
};

/// `req_… 127.0.0.1 GET /v1/models status=200 total_ms=1`, not yet redacted.
std::string summary_line(const request_summary& summary);
/// The same as JSON object members, for LOG_FORMAT=json.
std::string summary_json_members(const request_summary& summary);

/// The level a request is logged at, from its status: info, warn for a 4xx, error for a 5xx.
log_level level_for_status(int status) noexcept;

}  // namespace proxy
