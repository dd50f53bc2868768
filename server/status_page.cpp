// SPDX-License-Identifier: MIT
#include "status_page.hpp"

#include <cstdio>
#include <ctime>

#include <openssl/evp.h>

#include "config.hpp"

namespace proxy {
namespace {

using steady_duration = std::chrono::steady_clock::duration;

// Model names and request ids come from clients: nothing reaches the page unescaped.
void append_escaped(std::string& out, std::string_view text) {
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
}

std::string escaped(std::string_view text) {
    std::string out;
    append_escaped(out, text);
    return out;
}

std::string utc(std::chrono::system_clock::time_point at, const char* format) {
    const std::time_t t = std::chrono::system_clock::to_time_t(at);
    std::tm parts{};
    gmtime_r(&t, &parts);
    char text[32];
    return std::string(text, std::strftime(text, sizeof text, format, &parts));
}

// "0.4 ms", "850 ms", "12.4 s", "3 min 05 s", "2 h 07 min": as precise as a glance needs.
std::string span(steady_duration d) {
    const long long us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    const long long ms = us / 1000;
    char text[48];
    if (ms < 10) std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(us < 0 ? 0 : us) / 1000);
    else if (ms < 1000) std::snprintf(text, sizeof text, "%lld ms", ms);
    else if (ms < 60'000) std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000);
    else if (ms < 3'600'000) std::snprintf(text, sizeof text, "%lld min %02lld s", ms / 60'000, ms / 1000 % 60);
    else if (ms < 86'400'000) std::snprintf(text, sizeof text, "%lld h %02lld min", ms / 3'600'000, ms / 60'000 % 60);
    else std::snprintf(text, sizeof text, "%lld d %02lld h", ms / 86'400'000, ms / 3'600'000 % 24);
    return text;
}

// 1234567 -> "1,234,567".
std::string count(std::uint64_t n) {
    std::string digits = std::to_string(n);
    for (auto at = digits.size(); at > 3; at -= 3) digits.insert(at - 3, ",");
    return digits;
}

const char* status_class(int status) {
    if (status < 400) return "ok";
    if (status < 500) return "warn";
    return "bad";
}

std::string badge(const char* kind, std::string_view text) {
    return "<span class=\"badge " + std::string(kind) + "\">" + escaped(text) + "</span>";
}

std::string cell(std::string_view html, const char* cls = nullptr) {
    return cls ? "<td class=\"" + std::string(cls) + "\">" + std::string(html) + "</td>" : "<td>" + std::string(html) + "</td>";
}

std::string num_cell(std::uint64_t n) { return cell(count(n), "num"); }

std::string table_head(std::initializer_list<std::string_view> columns) {
    std::string out = "<table><thead><tr>";
    for (std::string_view c : columns) {
        const bool numeric = !c.empty() && c.front() == '#';
        out += numeric ? "<th class=\"num\">" : "<th>";
        out += escaped(numeric ? c.substr(1) : c);
        out += "</th>";
    }
    return out + "</tr></thead><tbody>";
}

std::string section(std::string_view title, std::size_t items, const std::string& table, std::string_view when_empty) {
    std::string out = "<section><h2>";
    append_escaped(out, title);
    out += " <span class=\"count\">" + count(items) + "</span></h2>";
    out += items == 0 ? "<p class=\"empty\">" + escaped(when_empty) + "</p>" : table + "</tbody></table>";
    return out + "</section>";
}

std::string fact(std::string_view label, const std::string& value_html, const char* cls = "fact") {
    return "<div class=\"" + std::string(cls) + "\"><dt>" + escaped(label) + "</dt><dd>" + value_html + "</dd></div>";
}

std::string upstream_summary(const upstream_health::report& health) {
    if (health.degraded) return badge("bad", "upstream degraded");
    if (!health.since_last_success && !health.since_last_failure) return badge("muted", "no upstream traffic yet");
    return badge("ok", "upstream ok");
}

std::string degraded_banner(const upstream_health::report& health) {
    if (!health.degraded) return {};
    return "<p class=\"banner\">The last " + count(health.failures_in_a_row) +
           " upstream attempts failed, the latest " + span(*health.since_last_failure) +
           " ago. <code>/health</code> reports <code>degraded</code> until an attempt succeeds.</p>";
}

std::string key_sharing(const std::optional<shared_state_view>& shared) {
    if (!shared) return badge("muted", "this instance only");
    return (shared->reading.connected ? badge("ok", "shared") : badge("bad", "not shared now")) + " <code>" +
           escaped(shared->where) + "</code>";
}

std::string shared_state_banner(const std::optional<shared_state_view>& shared) {
    if (!shared || shared->reading.connected) return {};
    return "<p class=\"banner\">Redis at <code>" + escaped(shared->where) +
           "</code> cannot be reached: this instance decides on its own key state (" + count(shared->reading.unavailable) +
           " calls answered locally since start), so instances may together exceed a key's budget. Sharing "
           "resumes by itself when Redis is back; <code>/health</code> reports <code>degraded</code> until then.</p>";
}

std::string key_state(const msgbridge::key_stats& key, std::chrono::system_clock::time_point now) {
    if (key.quarantined || key.cooling_until) {
        const std::string until = utc(now + std::chrono::duration_cast<std::chrono::system_clock::duration>(key.cooling_for),
                                      "%H:%M:%S");
        return key.quarantined ? badge("bad", "quarantined until " + until) : badge("warn", "resting until " + until);
    }
    return key.in_flight > 0 ? badge("ok", "in use") : badge("ok", "ready");
}

std::string keys_table(const status_view& view) {
    std::string t = table_head({"Key", "State", "#In flight", "#Requests", "#OK", "#429", "#401/403", "#Transient", "Last error (UTC)"});
    for (const auto& key : view.keys) {
        t += "<tr>" + cell("<code>" + escaped(key.redacted_id) + "</code>") + cell(key_state(key, view.now)) +
             num_cell(key.in_flight) + num_cell(key.requests) + num_cell(key.successes) + num_cell(key.rate_limited) +
             num_cell(key.auth_failures) + num_cell(key.transient_failures) +
             cell(key.last_error_at ? utc(*key.last_error_at, "%Y-%m-%d %H:%M:%S") : "<span class=\"muted\">never</span>") +
             "</tr>";
    }
    return t;
}

std::string models_table(const status_view& view) {
    std::string t = table_head({"Upstream model", "#Requests", "#Failed", "#Input tokens", "#Output tokens", "#Cache read"});
    for (const auto& m : view.models) {
        t += "<tr>" + cell(escaped(m.model), "model") + num_cell(m.requests) +
             cell(count(m.failed), m.failed > 0 ? "num bad-text" : "num") + num_cell(m.tokens_in) + num_cell(m.tokens_out) +
             num_cell(m.tokens_cache_read) + "</tr>";
    }
    return t;
}

std::string streams_table(const status_view& view) {
    std::string t = table_head({"Request", "Upstream model", "#Open for"});
    for (const auto& s : view.streams) {
        t += "<tr>" + cell("<code>" + escaped(s.request_id) + "</code>") + cell(escaped(s.model), "model") +
             cell(span(s.age), "num") + "</tr>";
    }
    return t;
}

// "claude-sonnet-4-5 → z-ai/glm4.7", or one name when the mapping left it alone.
std::string model_route(const status_board::finished_exchange& e) {
    if (e.client_model == e.upstream_model || e.upstream_model.empty()) return escaped(e.client_model);
    return escaped(e.client_model) + " <span class=\"muted\">&rarr;</span> " + escaped(e.upstream_model);
}

std::string recent_table(const status_view& view) {
    std::string t = table_head(
        {"Ended (UTC)", "Request", "Model", "Kind", "Status", "#Duration", "#Tokens in", "#Tokens out", "Left out or changed"});
    for (const auto& e : view.recent) {
        t += "<tr>" + cell("<code>" + utc(e.ended, "%H:%M:%S") + "</code>") + cell("<code>" + escaped(e.request_id) + "</code>") +
             cell(model_route(e), "model") + cell(e.stream ? "stream" : "non-stream", "muted") +
             cell(badge(status_class(e.status), std::to_string(e.status))) + cell(span(e.took), "num") +
             num_cell(e.tokens_in) + num_cell(e.tokens_out) + cell(escaped(e.notes), "notes") + "</tr>";
    }
    return t;
}

constexpr std::string_view page_style = R"CSS(
:root{--bg:#f5f6f8;--card:#fff;--text:#1c2128;--muted:#5f6b7a;--line:#e2e5e9;--head:#f0f2f5;
--ok:#1a7f37;--ok-bg:#dcf5e3;--warn:#8a5a00;--warn-bg:#fff2c2;--bad:#c62828;--bad-bg:#fde4e2;--accent:#0b62d6}
@media (prefers-color-scheme:dark){:root{--bg:#0e1116;--card:#161b22;--text:#e6edf3;--muted:#8b949e;--line:#2d333b;
--head:#1c222a;--ok:#3fb950;--ok-bg:#12301d;--warn:#d8a52a;--warn-bg:#33290f;--bad:#f8625a;--bad-bg:#3a1716;--accent:#58a6ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:22px 24px 28px}
header{display:flex;align-items:center;gap:12px;flex-wrap:wrap;margin-bottom:16px}
h1{font-size:20px;margin:0;font-weight:650;letter-spacing:-.01em}
h1 .version{color:var(--muted);font-weight:450;font-size:15px;margin-left:4px}
header .refreshed{margin-left:auto;color:var(--muted);font-size:12px}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:0 0 18px}
.fact{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.fact.wide{grid-column:span 2}
.fact dt{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.06em}
.fact dd{margin:3px 0 0;font-size:17px;font-weight:600;overflow-wrap:anywhere}
.fact dd code{font-size:13.5px;font-weight:500}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;margin-bottom:18px;overflow-x:auto}
h2{font-size:14px;margin:0;padding:10px 14px;border-bottom:1px solid var(--line);font-weight:650}
h2 .count{display:inline-block;min-width:22px;padding:0 7px;margin-left:4px;border-radius:999px;background:var(--head);
color:var(--muted);font-size:12px;font-weight:600;text-align:center}
table{width:100%;border-collapse:collapse}
th,td{padding:6px 14px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:middle}
th{font-size:11px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.05em;background:var(--head)}
tbody tr:last-child td{border-bottom:0}
tbody tr:hover td{background:var(--head)}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.notes{white-space:normal;min-width:140px;max-width:420px;color:var(--muted);font-size:12.5px;overflow-wrap:anywhere}
td.model{white-space:normal;overflow-wrap:anywhere;min-width:160px;max-width:420px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.muted{color:var(--muted)}
.bad-text{color:var(--bad);font-weight:600}
.badge{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.ok{color:var(--ok);background:var(--ok-bg)}
.badge.warn{color:var(--warn);background:var(--warn-bg)}
.badge.bad{color:var(--bad);background:var(--bad-bg)}
.badge.muted{color:var(--muted);background:var(--head)}
.empty{margin:0;padding:12px 14px;color:var(--muted)}
.banner{margin:0 0 18px;padding:10px 14px;border-radius:8px;border:1px solid var(--bad);background:var(--bad-bg);color:var(--bad)}
footer{color:var(--muted);font-size:12px}
#offline{position:fixed;left:0;right:0;top:0;margin:0;padding:6px 12px;text-align:center;font-weight:600;
background:var(--warn-bg);color:var(--warn);border-bottom:1px solid var(--warn)}
)CSS";

// Re-fetches the page and swaps its content in place (parsed, never run:
// DOMParser does not execute scripts). Unlike a meta refresh, it survives
// a proxy restart: a failed fetch keeps the last data on screen, says so,
// and tries again; a meta refresh would leave the browser's error page.
constexpr std::string_view page_script = R"JS(
(function () {
  var every = Number(document.body.dataset.refreshMs) || 5000;
  var offline = document.getElementById("offline");
  function refresh() {
    fetch(location.href, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("board");
        if (!next) throw new Error("not a status page");
        document.getElementById("board").replaceWith(next);
        offline.hidden = true;
      })
      .catch(function (e) {
        offline.textContent = "Refresh failed (" + e.message + ") at " + new Date().toLocaleTimeString() +
          "; showing older data, retrying every " + every / 1000 + " s";
        offline.hidden = false;
      })
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
)JS";

// `'sha256-<base64>'`: a CSP source that allows exactly this inline text.
// Hashes rather than a nonce: the page's refresh parses a fresh copy of the
// page, whose nonce would differ and be reported as a violation.
std::string csp_hash(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    EVP_Digest(text.data(), text.size(), digest, &digest_size, EVP_sha256(), nullptr);
    unsigned char base64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int base64_size = EVP_EncodeBlock(base64, digest, static_cast<int>(digest_size));
    return "'sha256-" + std::string(reinterpret_cast<const char*>(base64), static_cast<std::size_t>(base64_size)) + "'";
}

}  // namespace

std::string render_status_page(const status_view& view) {
    const auto refresh_seconds = std::to_string(view.refresh_every.count());
    std::string open_streams = count(view.streams.size());
    std::uint64_t requests = 0;
    for (const auto& m : view.models) requests += m.requests;

    std::string page;
    page.reserve(16 * 1024 + view.recent.size() * 400);
    page += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>claude-nvidia-proxy status</title>";
    // Without scripts the page still refreshes, the plain way.
    page += "<noscript><meta http-equiv=\"refresh\" content=\"" + refresh_seconds + "\"></noscript>";
    page += "<style>" + std::string(page_style) + "</style></head>";
    page += "<body data-refresh-ms=\"" + std::to_string(view.refresh_every.count() * 1000) + "\">";
    page += "<p id=\"offline\" hidden></p><main id=\"board\">";

    page += "<header><h1>claude-nvidia-proxy<span class=\"version\">" + escaped(view.version) + "</span></h1>" +
            upstream_summary(view.upstream) + "<span class=\"refreshed\">as of " +
            utc(view.now, "%Y-%m-%d %H:%M:%S") + " UTC</span></header>";
    page += "<dl class=\"facts\">" + fact("Upstream", "<code>" + escaped(view.upstream_url) + "</code>", "fact wide") +
            fact("Uptime", span(view.uptime)) + fact("Requests", count(requests)) +
            fact("Open streams", open_streams) + fact("Keys", count(view.keys.size())) +
            fact("Key state", key_sharing(view.shared), "fact wide") + "</dl>";
    page += degraded_banner(view.upstream);
    page += shared_state_banner(view.shared);

    page += section("Upstream keys", view.keys.size(), keys_table(view),
                    "No upstream keys configured: requests go upstream without one.");
    page += section("Open streams", view.streams.size(), streams_table(view), "No stream is open.");
    page += section("Requests and tokens per model", view.models.size(), models_table(view),
                    "No /v1/messages request has finished since the proxy started.");
    page += section("Last " + std::to_string(status_board::recent_capacity) + " requests", view.recent.size(),
                    recent_table(view), "No /v1/messages request has finished since the proxy started.");

    page += "<footer>Refreshes every " + refresh_seconds +
            " s. Counts since start-up, kept across reloads. Request bodies are never shown. "
            "Keys appear by redacted id only. Times in UTC.</footer></main>";
    page += "<script>" + std::string(page_script) + "</script></body></html>\n";
    return page;
}

http_response status_answer(const status_view& view) {
    http_response res;
    res.content_type = "text/html; charset=utf-8";
    res.body = render_status_page(view);
    // Defence in depth behind the escaping: no script, style or load but the page's own.
    res.headers.emplace_back("Content-Security-Policy", "default-src 'none'; style-src " + csp_hash(page_style) +
                                                            "; script-src " + csp_hash(page_script) +
                                                            "; connect-src 'self'; frame-ancestors 'none'; "
                                                            "base-uri 'none'; form-action 'none'");
    res.headers.emplace_back("Cache-Control", "no-store");
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return res;
}

std::string upstream_url_for_display(const std::string& url) {
    const upstream_url parsed = parse_upstream_url(url);
    return parsed.scheme + "://" + parsed.authority + parsed.path.substr(0, parsed.path.find('?'));
}

}  // namespace proxy
