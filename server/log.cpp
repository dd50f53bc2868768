// SPDX-License-Identifier: MIT
#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

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

// Cut at a UTF-8 boundary: never leave half a multi-byte character.
std::size_t utf8_cut(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text.size();
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return cut;
}

}  // namespace

logger::logger()
    : sink_([](std::string_view line) {
          std::lock_guard<std::mutex> lock(stderr_mutex());
          std::fwrite(line.data(), 1, line.size(), stderr);
          std::fflush(stderr);
      }) {}

logger::logger(log_sink sink) : sink_(std::move(sink)) {}

void logger::line(std::string_view text) const {
    std::string out = timestamp();
    out += ' ';
    append_escaped_controls(text, out);
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

}  // namespace proxy
