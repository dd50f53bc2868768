// SPDX-License-Identifier: MIT
#include "log.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <utility>
#include <mutex>

#include <msgbridge/json_writer.hpp>
#include <msgbridge/keys.hpp>

namespace proxy {
namespace {

std::mutex& stderr_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::string timestamp() {
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
    return buffer;
}

// The id a request's lines begin with (`req_` and 24 letters or digits), or empty.
std::string_view leading_request_id(std::string_view text) {
    if (text.substr(0, 4) != "req_") return {};
    std::size_t end = 4;
    while (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end]))) ++end;
    if (end < text.size() && text[end] != ' ') return {};
    return text.substr(0, end);
}

void write_strings(msgbridge::json_writer& w, std::initializer_list<std::pair<const char*, std::string_view>> members) {
    for (const auto& [name, text] : members) {
        w.key(name);
        w.string(text);
    }
}

void write_counts(msgbridge::json_writer& w, std::initializer_list<std::pair<const char*, std::uint64_t>> members) {
    for (const auto& [name, count] : members) {
        w.key(name);
        w.uint64(count);
    }
}

// `"a":1,"b":2` of `{"a":1,"b":2}`: an object's members, to follow others.
std::string_view object_members(std::string_view object) { return object.substr(1, object.size() - 2); }

}  // namespace

std::size_t utf8_cut(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text.size();
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return cut;
}

std::optional<log_level> parse_log_level(std::string_view name) noexcept {
    if (name == "debug") return log_level::debug;
    if (name == "info") return log_level::info;
    if (name == "warn" || name == "warning") return log_level::warn;
    if (name == "error") return log_level::error;
    return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view name) noexcept {
    if (name == "text") return log_format::text;
    if (name == "json") return log_format::json;
    return std::nullopt;
}

std::string_view to_string(log_level level) noexcept {
    switch (level) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warn: return "warn";
        case log_level::error: return "error";
    }
    return "info";
}

std::string_view to_string(log_format format) noexcept { return format == log_format::json ? "json" : "text"; }

log_sink standard_error_sink() {
    return [](std::string_view line) {
        std::lock_guard<std::mutex> lock(stderr_mutex());
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
    };
}

logger::logger() : logger(standard_error_sink()) {}

logger::logger(log_sink sink, log_format format, log_level level)
    : sink_(std::move(sink)), format_(format), level_(std::make_shared<std::atomic<log_level>>(level)) {}

void logger::line(std::string_view text, log_level level) const {
    if (!enabled(level)) return;
    if (format_ == log_format::text) {
        fields(level, text, {});
        return;
    }
    const std::string_view id = leading_request_id(text);
    msgbridge::json_writer w;
    w.start_object();
    if (!id.empty()) {
        w.key("request_id");
        w.string(id);
        text.remove_prefix(std::min(text.size(), id.size() + 1));
    }
    w.key("msg");
    w.string(text);
    w.end_object();
    fields(level, {}, object_members(w.view()));
}

void logger::fields(log_level level, std::string_view text, std::string_view json_members) const {
    if (!enabled(level)) return;
    std::string out;
    if (format_ == log_format::text) {
        out = timestamp();
        out += ' ';
        append_escaped_controls(text, out);
    } else {
        // JSON strings escape every control byte, so a line stays one line here too.
        out.reserve(64 + json_members.size());
        out.append("{\"time\":\"").append(timestamp()).append("\",\"level\":\"").append(to_string(level)).append("\"");
        if (!json_members.empty()) out.append(",").append(json_members);
        out += '}';
    }
    out += '\n';
    sink_(out);
}

void append_escaped_controls(std::string_view text, std::string& out) {
    // Paths, headers, bodies and upstream errors reach the log: a CR or LF
    // in them (a "%0a" in the URL is enough) would forge a log line, and
    // other control bytes can drive a terminal. Everything else is kept.
    static constexpr char hex[] = "0123456789abcdef";
    out.reserve(out.size() + text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte != 0x7f) {
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
}

std::string redact_secrets(std::string text, const std::vector<std::string>& secrets) {
    for (const auto& secret : secrets) {
        if (secret.size() < 4) continue;
        std::string replacement = msgbridge::redact_key(secret);
        for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + replacement.size()))
            text.replace(pos, secret.size(), replacement);
    }
    return text;
}

std::string body_for_log(std::string_view body, std::size_t max_chars, const std::vector<std::string>& secrets) {
    if (max_chars == 0) return {};
    // Anthropic images: "data":"<base64>"; OpenAI images: "url":"data:…;base64,<base64>".
    std::string out;
    out.reserve(body.size() < max_chars * 2 ? body.size() : max_chars * 2);
    std::size_t i = 0;
    while (i < body.size() && out.size() < max_chars + 256) {
        std::size_t data_key = body.find("\"data\":\"", i);
        std::size_t b64 = body.find(";base64,", i);
        std::size_t at = std::min(data_key, b64);
        if (at == std::string_view::npos) {
            out.append(body.substr(i, max_chars + 256 - out.size()));
            break;
        }
        std::size_t start = at == data_key ? at + 8 : at + 8;
        out.append(body.substr(i, start - i));
        std::size_t end = start;
        while (end < body.size() && body[end] != '"' && body[end] != '\\') ++end;
        if (end - start > 64) out += "<" + std::to_string(end - start) + " base64 chars>";
        else out.append(body.substr(start, end - start));
        i = end;
    }
    out = redact_secrets(std::move(out), secrets);
    if (out.size() > max_chars) {
        out.resize(utf8_cut(out, max_chars));
        out += "…(truncated)";
    }
    return out;
}

std::string preview_text(std::string_view text, std::size_t max_chars) {
    std::string_view cut = text.substr(0, utf8_cut(text, max_chars));
    std::string out;
    out.reserve(cut.size());
    for (char c : cut) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else out.push_back(c);
    }
    return out;
}

std::string summary_line(const exchange_summary& summary, const std::vector<std::string>& attempts) {
    auto millis_since_start = [&](std::chrono::steady_clock::time_point at) {
        return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(at - summary.started).count());
    };
    std::string line(summary.request_id);
    if (!summary.client_address.empty()) line.append(" ").append(summary.client_address);
    line += " POST /v1/messages ";
    line += summary.client_model;
    line += " -> ";
    line += summary.upstream_model;
    line += summary.stream ? " stream=true" : " stream=false";
    line += " status=" + std::to_string(summary.status) + " attempts=[";
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        if (i) line += ',';
        line += attempts[i];
    }
    line += "] tokens_in=" + std::to_string(summary.tokens_in) + " tokens_out=" + std::to_string(summary.tokens_out);
    if (summary.tokens_cache_read) line += " tokens_cache_read=" + std::to_string(summary.tokens_cache_read);
    line += " ttfb_ms=" + (summary.first_byte ? millis_since_start(*summary.first_byte) : std::string("-"));
    line += " total_ms=" + millis_since_start(summary.finished);
    if (summary.pings) line += " pings=" + std::to_string(summary.pings);
    if (summary.client_disconnected) line += " client=disconnected";
    if (summary.ended_by_shutdown) line += " ended=shutdown";
    if (summary.started_early) line += " started=early";
    if (!summary.end_note.empty()) line += " end=" + std::string(summary.end_note);
    if (!summary.error_body.empty()) line += " error=" + std::string(summary.error_body);
    return line;
}

std::string summary_json_members(const exchange_summary& summary, const std::vector<std::string>& attempts) {
    auto millis_since_start = [&](std::chrono::steady_clock::time_point at) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(at - summary.started).count();
    };
    msgbridge::json_writer w;
    w.start_object();
    write_strings(w, {{"request_id", summary.request_id},
                      {"client", summary.client_address},
                      {"method", "POST"},
                      {"route", "/v1/messages"},
                      {"model", summary.client_model},
                      {"upstream_model", summary.upstream_model}});
    w.key("stream");
    w.boolean(summary.stream);
    w.key("status");
    w.int64(summary.status);
    w.key("attempts");
    w.start_array();
    for (const auto& attempt : attempts) w.string(attempt);
    w.end_array();
    write_counts(w, {{"tokens_in", summary.tokens_in},
                     {"tokens_out", summary.tokens_out},
                     {"tokens_cache_read", summary.tokens_cache_read}});
    w.key("ttfb_ms");
    if (summary.first_byte) w.int64(millis_since_start(*summary.first_byte));
    else w.null();
    w.key("total_ms");
    w.int64(millis_since_start(summary.finished));
    if (summary.pings) {
        w.key("pings");
        w.uint64(summary.pings);
    }
    const std::pair<const char*, bool> flags[] = {{"client_disconnected", summary.client_disconnected},
                                                  {"ended_by_shutdown", summary.ended_by_shutdown},
                                                  {"started_early", summary.started_early}};
    for (const auto& [name, set] : flags) {
        if (!set) continue;
        w.key(name);
        w.boolean(true);
    }
    if (!summary.end_note.empty()) {
        w.key("end");
        w.string(summary.end_note);
    }
    if (!summary.error_body.empty()) {
        // The proxy's own Anthropic-shaped error body; kept as text, not
        // embedded: one malformed byte must not cost the whole line.
        w.key("error");
        w.string(summary.error_body);
    }
    w.end_object();
    return std::string(object_members(w.view()));
}

std::string summary_line(const request_summary& summary) {
    std::string line(summary.request_id);
    if (!summary.client_address.empty()) line.append(" ").append(summary.client_address);
    line.append(" ").append(summary.method).append(" ").append(summary.path);
    line += " status=" + std::to_string(summary.status);
    line += " total_ms=" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(summary.total).count());
    if (!summary.error_body.empty()) line.append(" error=").append(summary.error_body);
    return line;
}

std::string summary_json_members(const request_summary& summary) {
    msgbridge::json_writer w;
    w.start_object();
    write_strings(w, {{"request_id", summary.request_id},
                      {"client", summary.client_address},
                      {"method", summary.method},
                      {"route", summary.route},
                      {"path", summary.path}});
    w.key("status");
    w.int64(summary.status);
    w.key("total_ms");
    w.int64(std::chrono::duration_cast<std::chrono::milliseconds>(summary.total).count());
    if (!summary.error_body.empty()) {
        w.key("error");
        w.string(summary.error_body);
    }
    w.end_object();
    return std::string(object_members(w.view()));
}

log_level level_for_status(int status) noexcept {
    if (status >= 500) return log_level::error;
    if (status >= 400) return log_level::warn;
    return log_level::info;
}

}  // namespace proxy
