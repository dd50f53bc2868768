// SPDX-License-Identifier: MIT
#include "config.hpp"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include <simdjson.h>

#include <msgbridge/version.hpp>


namespace proxy {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

[[noreturn]] void fail(const std::string& message) { throw config_error(message); }

std::string trim(std::string_view text) {
    auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return {};
    auto end = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(begin, end - begin + 1));
}

// Trimmed, blanks and repeats left out: a source of only blanks and commas
// must count as unset, so the next source is used.
void add_key(std::vector<std::string>& keys, std::string_view raw) {
    std::string key = trim(raw);
    if (key.empty() || std::find(keys.begin(), keys.end(), key) != keys.end()) return;
    keys.push_back(std::move(key));
}

void add_comma_separated_keys(std::vector<std::string>& keys, std::string_view list) {
    while (true) {
        const std::size_t comma = list.find(',');
        add_key(keys, list.substr(0, comma));
        if (comma == std::string_view::npos) return;
        list.remove_prefix(comma + 1);
    }
}

// PROVIDER_API_KEYS_FILE: one key a line or comma-separated; `#` comments.
void add_keys_file_keys(std::vector<std::string>& keys, std::string_view text) {
    while (true) {
        const std::size_t newline = text.find('\n');
        const std::string_view line = text.substr(0, newline);
        add_comma_separated_keys(keys, line.substr(0, line.find('#')));
        if (newline == std::string_view::npos) return;
        text.remove_prefix(newline + 1);
    }
}

// The whole file named by `setting`, or a config_error saying why it cannot be read.
std::string read_setting_file(const std::string& setting, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(setting + ": cannot read '" + path + "': " + std::strerror(errno));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail(setting + ": cannot read '" + path + "'");
    return text;
}

// Strict: digits only, no sign, no trailing text; "12abc" is an error, not 12.
std::uint64_t parse_unsigned(const std::string& name, const std::string& text, std::uint64_t min,
                             std::uint64_t max) {
    std::string value = trim(text);
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        fail(name + ": not a whole number: '" + text + "'");
    errno = 0;
    unsigned long long parsed = std::strtoull(value.c_str(), nullptr, 10);
    if (errno == ERANGE || parsed > max)
        fail(name + ": " + value + " is too large (at most " + std::to_string(max) + ")");
    if (parsed < min) fail(name + ": " + value + " is too small (at least " + std::to_string(min) + ")");
    return parsed;
}

bool parse_bool(const std::string& name, const std::string& text) {
    std::string value = trim(text);
    for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
    if (value == "0" || value == "false" || value == "no" || value == "off") return false;
    fail(name + ": not a boolean (true/false): '" + text + "'");
}

msgbridge::user_id_forwarding parse_user_id_forwarding(const std::string& name, const std::string& text) {
    const std::string value = trim(text);
    if (value == "off") return msgbridge::user_id_forwarding::off;
    if (value == "as_is") return msgbridge::user_id_forwarding::as_is;
    if (value == "hash") return msgbridge::user_id_forwarding::hash;
    fail(name + ": unknown value '" + text + "' (expected off, as_is or hash)");
}

// MODEL_MAP: `pattern=upstream` entries, comma-separated, in match order.
std::vector<msgbridge::model_alias> parse_model_map_env(const std::string& text) {
    std::vector<msgbridge::model_alias> map;
    std::string_view rest = text;
    for (std::size_t index = 1;; ++index) {
        const std::size_t comma = rest.find(',');
        const std::string entry = trim(rest.substr(0, comma));
        const std::string where = "MODEL_MAP entry " + std::to_string(index) + " '" + entry + "'";
        const std::size_t equals = entry.find('=');
        if (entry.empty()) fail("MODEL_MAP entry " + std::to_string(index) + " is empty (a stray comma?)");
        if (equals == std::string::npos)
            fail(where + ": expected client-pattern=upstream-model, e.g. claude-sonnet-*=z-ai/glm5");
        msgbridge::model_alias alias{trim(entry.substr(0, equals)), trim(entry.substr(equals + 1))};
        if (alias.pattern.empty()) fail(where + ": the client model pattern before '=' is empty");
        if (alias.upstream_model.empty()) fail(where + ": the upstream model after '=' is empty");
        if (alias.upstream_model.find('=') != std::string::npos) fail(where + ": more than one '='");
        map.push_back(std::move(alias));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return map;
}

log_format parse_log_format_setting(const std::string& name, const std::string& text) {
    if (auto format = parse_log_format(trim(text))) return *format;
    fail(name + ": '" + text + "' is not a log format (text, json)");
}

log_level parse_log_level_setting(const std::string& name, const std::string& text) {
    if (auto level = parse_log_level(trim(text))) return *level;
    fail(name + ": '" + text + "' is not a log level (debug, info, warn, error)");
}

msgbridge::rotation parse_rotation_setting(const std::string& name, const std::string& text) {
    auto parsed = msgbridge::parse_rotation(text, name);
    if (!parsed) fail(parsed.error().message);
    return parsed.value();
}

// ---- config.json: one function per object shape, visiting fields as they come ----

struct json_context {
    const std::string& origin;
    std::string where(std::string_view field) const { return origin + ": " + std::string(field); }
};

std::string get_string(const json_context& ctx, std::string_view field, element value) {
    std::string_view text;
    if (value.get_string().get(text)) fail(ctx.where(field) + ": expected a string");
    return std::string(text);
}

std::uint64_t get_unsigned(const json_context& ctx, std::string_view field, element value, std::uint64_t min,
                           std::uint64_t max) {
    std::uint64_t number = 0;
    if (value.get_uint64().get(number)) fail(ctx.where(field) + ": expected a non-negative whole number");
    if (number < min) fail(ctx.where(field) + ": " + std::to_string(number) + " is too small (at least " + std::to_string(min) + ")");
    if (number > max) fail(ctx.where(field) + ": " + std::to_string(number) + " is too large (at most " + std::to_string(max) + ")");
    return number;
}

bool get_bool(const json_context& ctx, std::string_view field, element value) {
    bool flag = false;
    if (value.get_bool().get(flag)) fail(ctx.where(field) + ": expected true or false");
    return flag;
}

msgbridge::reasoning_replay parse_replay(const json_context& ctx, std::string_view field, const std::string& text) {
    if (text == "reasoning_content") return msgbridge::reasoning_replay::reasoning_content;
    if (text == "think_tags") return msgbridge::reasoning_replay::think_tags;
    if (text == "drop") return msgbridge::reasoning_replay::drop;
    fail(ctx.where(field) + ": unknown value '" + text + "' (expected reasoning_content, think_tags or drop)");
}

msgbridge::reasoning_control parse_control(const json_context& ctx, std::string_view field, const std::string& text) {
    if (text == "none") return msgbridge::reasoning_control::none;
    if (text == "reasoning_effort") return msgbridge::reasoning_control::reasoning_effort;
    if (text == "chat_template_kwargs") return msgbridge::reasoning_control::chat_template_kwargs;
    fail(ctx.where(field) + ": unknown value '" + text + "' (expected none, reasoning_effort or chat_template_kwargs)");
}

msgbridge::late_system_placement parse_late_system(const json_context& ctx, std::string_view field,
                                                   const std::string& text) {
    if (text == "in_place") return msgbridge::late_system_placement::in_place;
    if (text == "user_turn") return msgbridge::late_system_placement::user_turn;
    if (text == "leading_system") return msgbridge::late_system_placement::leading_system;
    fail(ctx.where(field) + ": unknown value '" + text + "' (expected in_place, user_turn or leading_system)");
}

msgbridge::model_profile parse_profile(const json_context& ctx, const std::string& path, element value) {
    simdjson::dom::object object;
    if (value.get_object().get(object)) fail(ctx.where(path) + ": expected an object");
    msgbridge::model_profile profile;
    bool has_match = false;
    for (auto member : object) {
        std::string field = path + "." + std::string(member.key);
        std::string_view key = member.key;
        auto v = member.value;
        if (key == "match") { profile.match = get_string(ctx, field, v); has_match = true; }
        else if (key == "max_output_tokens") profile.max_output_tokens = static_cast<std::uint32_t>(get_unsigned(ctx, field, v, 1, std::numeric_limits<std::uint32_t>::max()));
        else if (key == "context_window") profile.context_window = static_cast<std::uint32_t>(get_unsigned(ctx, field, v, 1, std::numeric_limits<std::uint32_t>::max()));
        else if (key == "vision") profile.vision = get_bool(ctx, field, v);
        else if (key == "replay" || key == "reasoning_replay") profile.replay = parse_replay(ctx, field, get_string(ctx, field, v));
        else if (key == "thinking_kwarg") profile.thinking_kwarg = get_string(ctx, field, v);
        else if (key == "tool_choice_required") profile.tool_choice_required = get_bool(ctx, field, v);
        else if (key == "file_parts") profile.file_parts = get_bool(ctx, field, v);
        else if (key == "reasoning") profile.reasoning = parse_control(ctx, field, get_string(ctx, field, v));
        else if (key == "tool_choice_auto") profile.tool_choice_auto = get_bool(ctx, field, v);
        else if (key == "parallel_tool_calls") profile.parallel_tool_calls = get_bool(ctx, field, v);
        else if (key == "top_k") profile.top_k = get_bool(ctx, field, v);
        else if (key == "stream_usage") profile.stream_usage = get_bool(ctx, field, v);
        else if (key == "late_system") profile.late_system = parse_late_system(ctx, field, get_string(ctx, field, v));
        else if (key == "late_system_as_user") {
            // The boolean this setting had before `late_system` named the placements.
            profile.late_system = get_bool(ctx, field, v) ? msgbridge::late_system_placement::user_turn
                                                          : msgbridge::late_system_placement::in_place;
        }
        else if (key == "think_tags_in_content") profile.think_tags_in_content = get_bool(ctx, field, v);
        else if (key == "salvage_text_tool_calls") profile.salvage_text_tool_calls = get_bool(ctx, field, v);
        else if (key == "extra_body") {
            if (v.type() != element_type::OBJECT) fail(ctx.where(field) + ": expected a JSON object");
            profile.extra_body = simdjson::minify(v);
        } else {
            fail(ctx.where(field) + ": unknown setting");
        }
    }
    if (!has_match) fail(ctx.where(path) + ".match: required (a model name or glob such as \"moonshotai/*\")");
    return profile;
}

// Headers the proxy writes itself on every upstream request: a second copy
// would contradict it (framing, auth, content negotiation) or be ignored.
bool is_proxy_owned_header(std::string_view name) {
    static constexpr std::string_view owned[] = {"authorization", "content-type", "content-length", "host",
                                                 "accept", "accept-encoding", "transfer-encoding", "connection",
                                                 "te", "upgrade", "trailer", "keep-alive"};
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto owned_name : owned)
        if (lower == owned_name) return true;
    return false;
}

// RFC 9110 token characters.
bool is_header_name(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name) {
        if (std::isalnum(c)) continue;
        if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos) return false;
    }
    return true;
}

// Field values: visible ASCII, spaces and tabs, and bytes >= 0x80; never CR,
// LF or NUL, which would let a config value add a header or end the request.
bool is_header_value(std::string_view value) {
    for (unsigned char c : value)
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    return true;
}

// One `nvidia_keys` entry: the key, or {"key": "...", "rpm": N} to pace it apart from key_rpm.
// Errors name the entry's position, never the key.
void add_nvidia_key(const json_context& ctx, const std::string& field, element value, key_sources& sources) {
    simdjson::dom::object object;
    if (value.get_object().get(object)) {
        sources.nvidia_keys.push_back(get_string(ctx, field, value));
        return;
    }
    std::optional<std::string> key;
    std::optional<std::uint32_t> rpm;
    for (auto member : object) {
        const std::string member_field = field + "." + std::string(member.key);
        if (member.key == "key") key = get_string(ctx, member_field, member.value);
        else if (member.key == "rpm") rpm = static_cast<std::uint32_t>(get_unsigned(ctx, member_field, member.value, 0, max_key_rpm));
        else fail(ctx.where(member_field) + ": unknown field (expected key and rpm)");
    }
    if (!key) fail(ctx.where(field) + ": expected a string or an object with \"key\"");
    if (rpm) sources.nvidia_key_rpm.push_back({trim(*key), *rpm});
    sources.nvidia_keys.push_back(std::move(*key));
}

void parse_upstream_headers(const json_context& ctx, std::string_view key, element value, std::vector<std::pair<std::string, std::string>>& out) {
    simdjson::dom::object headers;
    if (value.get_object().get(headers)) fail(ctx.where(key) + ": expected an object of \"Header-Name\": \"value\"");
    out.clear();
    for (auto header : headers) {
        const std::string name(header.key);
        const std::string field = std::string(key) + "." + name;
        if (!is_header_name(name)) fail(ctx.where(field) + ": not a valid HTTP header name");
        if (is_proxy_owned_header(name))
            fail(ctx.where(field) + ": set by the proxy on every upstream request; it cannot be overridden here");
        // The value is never echoed: providers put credentials in headers too.
        std::string text = get_string(ctx, field, header.value);
        if (!is_header_value(text)) fail(ctx.where(field) + ": the value contains a control character (CR, LF, NUL, ...)");
        for (const auto& [existing, unused] : out)
            if (strcasecmp(existing.c_str(), name.c_str()) == 0) fail(ctx.where(field) + ": given twice");
        out.emplace_back(name, std::move(text));
    }
}

// Where the authority of `url` lies: after `scheme://` (or from the start),
// up to the first `/`, `?` or `#` (RFC 3986, 3.2).
std::pair<std::size_t, std::size_t> authority_span(std::string_view url) {
    const auto scheme_end = url.find("://");
    const std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    return {start, std::min(url.find_first_of("/?#", start), url.size())};
}

// The URL as it may be shown: user:password@ replaced, so a mistake in the
// setting never prints a credential.
std::string url_for_message(const std::string& url) {
    const auto [start, end] = authority_span(url);
    const auto at = url.substr(start, end - start).rfind('@');
    if (at == std::string::npos) return url;
    return url.substr(0, start) + "***@" + url.substr(start + at + 1);
}

[[noreturn]] void refuse_redis_url(const std::string& shown, const std::string& why) {
    throw config_error("REDIS_URL/redis_url: '" + shown + "': " + why);
}

unsigned long parse_number(const std::string& text, unsigned long max, const std::string& shown, const char* what) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 9 ||
        std::strtoul(text.c_str(), nullptr, 10) > max)
        refuse_redis_url(shown, std::string("the ") + what + " must be a number from 0 to " + std::to_string(max));
    return std::strtoul(text.c_str(), nullptr, 10);
}

// A CA bundle that cannot be read would only show at the first request, as a
// TLS failure with every key: say so at start instead.
void check_ca_file(const std::string& path) {
    const std::string head = read_setting_file("UPSTREAM_CA_FILE/ca_cert_file", path);
    if (head.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        fail("UPSTREAM_CA_FILE/ca_cert_file: '" + path + "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
}

}  // namespace

env_lookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

void apply_config_json(const std::string& json_text, const std::string& origin, config& cfg) {
    json_context ctx{origin};
    simdjson::dom::parser parser;
    element doc;
    simdjson::padded_string padded(json_text);
    if (auto err = parser.parse(padded).get(doc))
        fail(origin + ": malformed JSON (" + simdjson::error_message(err) + ")");
    simdjson::dom::object root;
    if (doc.get_object().get(root)) fail(origin + ": expected a JSON object at the top level");

    for (auto member : root) {
        std::string_view key = member.key;
        auto v = member.value;
        if (key == "nvidia_url") {
            // Blank means "not set", as in the Go original: the default URL stays.
            const std::string url = trim(get_string(ctx, key, v));
            if (!url.empty()) cfg.upstream_url = url;
        }
        else if (key == "nvidia_key") {
            cfg.key_sources.nvidia_key = get_string(ctx, key, v);
            if (!trim(cfg.key_sources.nvidia_key).empty())
                cfg.notes.push_back(origin + ": nvidia_key is deprecated, use nvidia_keys");
        } else if (key == "nvidia_keys") {
            simdjson::dom::array array;
            if (v.get_array().get(array)) fail(ctx.where(key) + ": expected an array of strings");
            std::size_t index = 0;
            cfg.key_sources.nvidia_keys.clear();
            cfg.key_sources.nvidia_key_rpm.clear();
            for (auto item : array)
                add_nvidia_key(ctx, std::string(key) + "[" + std::to_string(index++) + "]", item, cfg.key_sources);
        } else if (key == "key_rpm") cfg.key_rpm = static_cast<std::uint32_t>(get_unsigned(ctx, key, v, 0, max_key_rpm));
        else if (key == "key_rotation") cfg.key_rotation = parse_rotation_setting(ctx.where(key), get_string(ctx, key, v));
        else if (key == "server_api_key") cfg.server_api_key = get_string(ctx, key, v);
        else if (key == "addr") cfg.addr = get_string(ctx, key, v);
        else if (key == "upstream_timeout_seconds") cfg.upstream_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "log_body_max_chars") cfg.log_body_max_chars = get_unsigned(ctx, key, v, 0, 1u << 30);
        else if (key == "log_format") cfg.log_format = parse_log_format_setting(ctx.where(key), get_string(ctx, key, v));
        else if (key == "log_level") cfg.log_level = parse_log_level_setting(ctx.where(key), get_string(ctx, key, v));
        else if (key == "log_stream_text_preview_chars") cfg.log_stream_text_preview_chars = get_unsigned(ctx, key, v, 0, 1u << 30);
        else if (key == "max_body_bytes") cfg.max_body_bytes = get_unsigned(ctx, key, v, 1024, std::uint64_t{1} << 32);
        else if (key == "max_connections") cfg.max_connections = get_unsigned(ctx, key, v, 1, 65536);
        else if (key == "connect_timeout_seconds") cfg.connect_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 3600));
        else if (key == "stream_idle_timeout_seconds") cfg.stream_idle_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "ping_interval_seconds") cfg.ping_interval_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 3600));
        else if (key == "stream_commit_after_seconds") cfg.stream_commit_after_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 0, 3600));
        else if (key == "shutdown_grace_seconds") cfg.shutdown_grace_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 0, 3600));
        else if (key == "keep_alive_timeout_seconds") cfg.keep_alive_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 3600));
        else if (key == "client_read_timeout_seconds") cfg.client_read_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 3600));
        else if (key == "client_header_timeout_seconds") cfg.client_header_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 3600));
        else if (key == "client_body_timeout_seconds") cfg.client_body_timeout_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "max_upstream_response_bytes") cfg.max_upstream_response_bytes = get_unsigned(ctx, key, v, 1024, std::uint64_t{1} << 40);
        else if (key == "max_retry_after_seconds") cfg.max_retry_after_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "auth_quarantine_base_seconds") cfg.auth_quarantine_base_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "auth_quarantine_max_seconds") cfg.auth_quarantine_max_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "health_degraded_after_failures") cfg.health_degraded_after_failures = static_cast<unsigned>(get_unsigned(ctx, key, v, 0, 100000));
        else if (key == "health_degraded_window_seconds") cfg.health_degraded_window_seconds = static_cast<unsigned>(get_unsigned(ctx, key, v, 1, 86400));
        else if (key == "answer_quota_probe") cfg.answer_quota_probe = get_bool(ctx, key, v);
        else if (key == "ca_cert_file") cfg.ca_cert_file = get_string(ctx, key, v);
        else if (key == "redis_url") cfg.redis_url = trim(get_string(ctx, key, v));
        else if (key == "default_model") {
            cfg.request.default_model = get_string(ctx, key, v);
            cfg.default_model_from = ctx.where(key);
        }
        else if (key == "forward_user_id") cfg.request.forward_user_id = parse_user_id_forwarding(ctx.where(key), get_string(ctx, key, v));
        else if (key == "drop_billing_header") cfg.request.drop_billing_header = get_bool(ctx, key, v);
        else if (key == "forward_deferred_tools") cfg.request.forward_deferred_tools = get_bool(ctx, key, v);
        else if (key == "server_tools") {
            std::string policy = get_string(ctx, key, v);
            if (policy == "drop_with_warning") cfg.request.server_tools = msgbridge::server_tool_policy::drop_with_warning;
            else if (policy == "reject") cfg.request.server_tools = msgbridge::server_tool_policy::reject;
            else fail(ctx.where(key) + ": unknown value '" + policy + "' (expected drop_with_warning or reject)");
        } else if (key == "model_map") {
            simdjson::dom::object map;
            if (v.get_object().get(map)) fail(ctx.where(key) + ": expected an object of \"client model or glob\": \"upstream model\"");
            cfg.request.model_map.clear();
            for (auto alias : map) {
                std::string field = std::string(key) + "." + std::string(alias.key);
                std::string upstream = get_string(ctx, field, alias.value);
                if (alias.key.empty() || upstream.empty()) fail(ctx.where(field) + ": names must not be empty");
                cfg.request.model_map.push_back({std::string(alias.key), std::move(upstream)});
            }
            cfg.model_map_from = ctx.where(key);
        } else if (key == "upstream_headers") {
            parse_upstream_headers(ctx, key, v, cfg.upstream_headers);
        } else if (key == "models") {
            simdjson::dom::array array;
            if (v.get_array().get(array)) fail(ctx.where(key) + ": expected an array of model profiles");
            cfg.user_models.clear();
            std::size_t index = 0;
            for (auto item : array)
                cfg.user_models.push_back(parse_profile(ctx, "models[" + std::to_string(index++) + "]", item));
        } else if (key == "models_replace_defaults") {
            cfg.models_replace_defaults = get_bool(ctx, key, v);
        } else if (!key.empty() && (key[0] == '_' || key[0] == '$')) {
            // "_comment" and "$schema" style members are for humans and editors.
        } else {
            // The Go original ignored unknown members; we keep starting but say so.
            cfg.notes.push_back(origin + ": unknown setting '" + std::string(key) + "' ignored");
        }
    }
    if (cfg.models_replace_defaults && cfg.user_models.empty())
        fail(origin + ": models_replace_defaults is true but models is empty: there would be no profiles at all");
    cfg.request.profiles = profile_table(cfg);
}

std::vector<msgbridge::model_profile> profile_table(const config& cfg) {
    // First match wins, so the user's entries in front override the shipped
    // ones for the models they name and leave the others their profiles.
    std::vector<msgbridge::model_profile> table = cfg.user_models;
    if (!cfg.models_replace_defaults) {
        auto shipped = msgbridge::default_profiles();
        table.insert(table.end(), std::make_move_iterator(shipped.begin()), std::make_move_iterator(shipped.end()));
    }
    return table;
}

std::vector<std::string> describe_profiles(const std::vector<msgbridge::model_profile>& profiles) {
    const auto optional_number = [](const std::optional<std::uint32_t>& value) {
        return value ? std::to_string(*value) : std::string("none");
    };
    const auto reasoning_name = [](msgbridge::reasoning_control control) {
        switch (control) {
            case msgbridge::reasoning_control::reasoning_effort: return "reasoning_effort";
            case msgbridge::reasoning_control::chat_template_kwargs: return "chat_template_kwargs";
            case msgbridge::reasoning_control::none: break;
        }
        return "none";
    };
    std::vector<std::string> lines;
    for (const auto& profile : profiles) {
        std::string line = "model profile: " + profile.match + " -> max output " + optional_number(profile.max_output_tokens) +
                           ", context " + optional_number(profile.context_window) + ", vision " +
                           (profile.vision ? "yes" : "no") + ", top_k " + (profile.top_k ? "yes" : "no") + ", reasoning " +
                           reasoning_name(profile.reasoning);
        if (profile.reasoning == msgbridge::reasoning_control::chat_template_kwargs) line += "." + profile.thinking_kwarg;
        if (!profile.extra_body.empty()) line += ", extra_body " + profile.extra_body;
        lines.push_back(std::move(line));
    }
    return lines;
}

upstream_url parse_upstream_url(const std::string& url) {
    const std::string setting = "UPSTREAM_URL/nvidia_url: '" + url_for_message(url) + "' ";
    upstream_url out;
    if (url.rfind("https://", 0) == 0) out.scheme = "https";
    else if (url.rfind("http://", 0) == 0) out.scheme = "http";
    else fail(setting + "is not an http:// or https:// URL");
    for (const unsigned char c : url)
        if (c <= 0x20 || c == 0x7f) fail(setting + "contains a space or a control character");
    const auto [authority_start, authority_end] = authority_span(url);
    const std::string_view authority = std::string_view(url).substr(authority_start, authority_end - authority_start);
    if (authority.find('@') != std::string_view::npos)
        fail(setting + "carries credentials (user:password@); they are not sent and would be logged: "
                       "give the key as PROVIDER_API_KEY or nvidia_keys instead");
    std::string_view host = authority;
    std::string_view port;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) fail(setting + "has an unclosed IPv6 address");
        port = host.substr(close + 1);
        host = host.substr(0, close + 1);
        if (!port.empty()) {
            if (port.front() != ':') fail(setting + "has text after the IPv6 address");
            port.remove_prefix(1);
            if (port.empty()) fail(setting + "has an empty port");
        }
    } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
        if (port.empty()) fail(setting + "has an empty port");
    }
    if (host.empty() || host == "[]") fail(setting + "has no host");
    out.port = out.https() ? 443 : 80;
    if (!port.empty()) {
        // Checked here: a port of 99999 would wrap to 34463 in the socket layer.
        unsigned long value = 0;
        for (const char c : port) {
            if (c < '0' || c > '9' || value > 65535) fail(setting + "has an invalid port (1-65535)");
            value = value * 10 + static_cast<unsigned long>(c - '0');
        }
        if (value == 0 || value > 65535) fail(setting + "has an invalid port (1-65535)");
        out.port = static_cast<std::uint16_t>(value);
    }
    out.host = std::string(host);
    out.authority = std::string(authority);
    // The fragment is the client's own; it is never sent.
    std::string_view target = std::string_view(url).substr(authority_end);
    target = target.substr(0, target.find('#'));
    out.path = (target.empty() || target.front() != '/' ? "/" : "") + std::string(target);
    return out;
}

void parse_listen_addr(const std::string& addr, std::string& host, int& port) {
    std::string text = trim(addr);
    std::string host_part;
    std::string port_part;
    if (!text.empty() && text[0] == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            fail("ADDR: cannot parse '" + addr + "' (expected [ipv6]:port)");
        host_part = text.substr(1, close - 1);
        port_part = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos) fail("ADDR: cannot parse '" + addr + "' (expected host:port or :port)");
        host_part = text.substr(0, colon);
        port_part = text.substr(colon + 1);
        if (host_part.find(':') != std::string::npos)
            fail("ADDR: cannot parse '" + addr + "' (write IPv6 addresses as [addr]:port)");
    }
    port = static_cast<int>(parse_unsigned("ADDR port", port_part, 0, 65535));
    // Go's ":3001" listens on every interface.
    host = host_part.empty() ? "0.0.0.0" : host_part;
}

bool is_loopback_host(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

cli_action parse_command_line(int argc, const char* const* argv, std::string& config_path_override) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") return cli_action::help;
        if (arg == "--version" || arg == "-V") return cli_action::version;
        if (arg == "--config" || arg == "-c") {
            if (i + 1 >= argc) fail(arg + ": needs a file name");
            config_path_override = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            config_path_override = arg.substr(9);
        } else {
            fail("unknown argument '" + arg + "' (try --help)");
        }
    }
    return cli_action::run;
}

config load_config(const env_lookup& env, const std::string& config_path_override) {
    config cfg;
    auto get = [&](const char* name) -> std::optional<std::string> {
        auto value = env(name);
        if (value && trim(*value).empty()) return std::nullopt;  // VAR= counts as unset, as in Go
        return value;
    };

    std::string path = "config.json";
    bool named = false;
    if (!config_path_override.empty()) { path = config_path_override; named = true; }
    else if (auto p = get("CONFIG_PATH")) { path = *p; named = true; }

    std::ifstream file(path, std::ios::binary);
    if (file) {
        std::stringstream text;
        text << file.rdbuf();
        if (file.bad()) fail(path + ": cannot read");
        apply_config_json(text.str(), path, cfg);
        cfg.config_path_used = path;
    } else if (named) {
        fail("CONFIG_PATH: cannot open '" + path + "'");
    } else {
        cfg.notes.push_back("no config.json in the working directory; using defaults and the environment");
    }

    // Environment overrides, the Go original's names.
    if (auto keys = get("PROVIDER_API_KEYS")) cfg.key_sources.provider_api_keys = *keys;
    if (auto file = get("PROVIDER_API_KEYS_FILE")) {
        if (!cfg.key_sources.provider_api_keys.empty())
            fail("PROVIDER_API_KEYS and PROVIDER_API_KEYS_FILE are both set: give the keys in one of them");
        cfg.keys_file = trim(*file);
        cfg.key_sources.provider_api_keys_file = read_setting_file("PROVIDER_API_KEYS_FILE", cfg.keys_file);
    }
    if (auto key = get("PROVIDER_API_KEY")) cfg.key_sources.provider_api_key = *key;
    if (auto v = get("KEY_RPM")) cfg.key_rpm = static_cast<std::uint32_t>(parse_unsigned("KEY_RPM", *v, 0, max_key_rpm));
    if (auto v = get("KEY_ROTATION")) cfg.key_rotation = parse_rotation_setting("KEY_ROTATION", *v);
    if (auto v = get("UPSTREAM_URL")) cfg.upstream_url = trim(*v);
    if (auto v = get("SERVER_API_KEY")) cfg.server_api_key = *v;
    if (auto v = get("ADDR")) cfg.addr = trim(*v);
    if (auto v = get("UPSTREAM_TIMEOUT_SECONDS")) cfg.upstream_timeout_seconds = static_cast<unsigned>(parse_unsigned("UPSTREAM_TIMEOUT_SECONDS", *v, 1, 86400));
    if (auto v = get("LOG_BODY_MAX_CHARS")) cfg.log_body_max_chars = parse_unsigned("LOG_BODY_MAX_CHARS", *v, 0, 1u << 30);
    if (auto v = get("LOG_STREAM_TEXT_PREVIEW_CHARS")) cfg.log_stream_text_preview_chars = parse_unsigned("LOG_STREAM_TEXT_PREVIEW_CHARS", *v, 0, 1u << 30);
    // Our additions.
    if (auto v = get("LOG_FORMAT")) cfg.log_format = parse_log_format_setting("LOG_FORMAT", *v);
    if (auto v = get("LOG_LEVEL")) cfg.log_level = parse_log_level_setting("LOG_LEVEL", *v);
    if (auto v = get("MAX_BODY_BYTES")) cfg.max_body_bytes = parse_unsigned("MAX_BODY_BYTES", *v, 1024, std::uint64_t{1} << 32);
    if (auto v = get("MAX_CONNECTIONS")) cfg.max_connections = parse_unsigned("MAX_CONNECTIONS", *v, 1, 65536);
    if (auto v = get("CONNECT_TIMEOUT_SECONDS")) cfg.connect_timeout_seconds = static_cast<unsigned>(parse_unsigned("CONNECT_TIMEOUT_SECONDS", *v, 1, 3600));
    if (auto v = get("STREAM_IDLE_TIMEOUT_SECONDS")) cfg.stream_idle_timeout_seconds = static_cast<unsigned>(parse_unsigned("STREAM_IDLE_TIMEOUT_SECONDS", *v, 1, 86400));
    if (auto v = get("PING_INTERVAL_SECONDS")) cfg.ping_interval_seconds = static_cast<unsigned>(parse_unsigned("PING_INTERVAL_SECONDS", *v, 1, 3600));
    if (auto v = get("STREAM_COMMIT_AFTER_SECONDS")) cfg.stream_commit_after_seconds = static_cast<unsigned>(parse_unsigned("STREAM_COMMIT_AFTER_SECONDS", *v, 0, 3600));
    if (auto v = get("SHUTDOWN_GRACE_SECONDS")) cfg.shutdown_grace_seconds = static_cast<unsigned>(parse_unsigned("SHUTDOWN_GRACE_SECONDS", *v, 0, 3600));
    if (auto v = get("CLIENT_READ_TIMEOUT_SECONDS")) cfg.client_read_timeout_seconds = static_cast<unsigned>(parse_unsigned("CLIENT_READ_TIMEOUT_SECONDS", *v, 1, 3600));
    if (auto v = get("CLIENT_HEADER_TIMEOUT_SECONDS")) cfg.client_header_timeout_seconds = static_cast<unsigned>(parse_unsigned("CLIENT_HEADER_TIMEOUT_SECONDS", *v, 1, 3600));
    if (auto v = get("CLIENT_BODY_TIMEOUT_SECONDS")) cfg.client_body_timeout_seconds = static_cast<unsigned>(parse_unsigned("CLIENT_BODY_TIMEOUT_SECONDS", *v, 1, 86400));
    if (auto v = get("MAX_UPSTREAM_RESPONSE_BYTES")) cfg.max_upstream_response_bytes = parse_unsigned("MAX_UPSTREAM_RESPONSE_BYTES", *v, 1024, std::uint64_t{1} << 40);
    if (auto v = get("MAX_RETRY_AFTER_SECONDS")) cfg.max_retry_after_seconds = static_cast<unsigned>(parse_unsigned("MAX_RETRY_AFTER_SECONDS", *v, 1, 86400));
    if (auto v = get("AUTH_QUARANTINE_BASE_SECONDS")) cfg.auth_quarantine_base_seconds = static_cast<unsigned>(parse_unsigned("AUTH_QUARANTINE_BASE_SECONDS", *v, 1, 86400));
    if (auto v = get("AUTH_QUARANTINE_MAX_SECONDS")) cfg.auth_quarantine_max_seconds = static_cast<unsigned>(parse_unsigned("AUTH_QUARANTINE_MAX_SECONDS", *v, 1, 86400));
    if (auto v = get("HEALTH_DEGRADED_AFTER_FAILURES")) cfg.health_degraded_after_failures = static_cast<unsigned>(parse_unsigned("HEALTH_DEGRADED_AFTER_FAILURES", *v, 0, 100000));
    if (auto v = get("HEALTH_DEGRADED_WINDOW_SECONDS")) cfg.health_degraded_window_seconds = static_cast<unsigned>(parse_unsigned("HEALTH_DEGRADED_WINDOW_SECONDS", *v, 1, 86400));
    if (auto v = get("ANSWER_QUOTA_PROBE")) cfg.answer_quota_probe = parse_bool("ANSWER_QUOTA_PROBE", *v);
    if (auto v = get("DEFAULT_MODEL")) {
        cfg.request.default_model = trim(*v);
        cfg.default_model_from = "DEFAULT_MODEL";
    }
    // Replaces config.json's model_map entirely, as every other variable
    // replaces its setting: one place to read the mapping in effect from.
    if (auto v = get("MODEL_MAP")) {
        cfg.request.model_map = parse_model_map_env(*v);
        cfg.model_map_from = "MODEL_MAP";
    }
    if (auto v = get("FORWARD_USER_ID")) cfg.request.forward_user_id = parse_user_id_forwarding("FORWARD_USER_ID", *v);
    if (auto v = get("UPSTREAM_CA_FILE")) cfg.ca_cert_file = trim(*v);
    if (auto v = get("REDIS_URL")) cfg.redis_url = trim(*v);

    // Checked at start, so that a typo never sends the keys somewhere else.
    (void)parse_upstream_url(cfg.upstream_url);
    if (!cfg.ca_cert_file.empty()) check_ca_file(cfg.ca_cert_file);
    if (!cfg.redis_url.empty()) (void)parse_redis_url(cfg.redis_url);
    parse_listen_addr(cfg.addr, cfg.listen_host, cfg.listen_port);
    auto collected = collect_keys(cfg.key_sources);
    cfg.keys = std::move(collected.keys);
    cfg.keys_from = collected.source;
    // A file caught half-written must not fall back to other keys silently.
    if (!cfg.keys_file.empty() && cfg.keys_from != key_source::provider_api_keys_file)
        fail("PROVIDER_API_KEYS_FILE: '" + cfg.keys_file + "' holds no keys");
    return cfg;
}

redis_endpoint parse_redis_url(const std::string& url) {
    redis_endpoint out;
    const auto scheme_end = url.find("://");
    const std::string scheme = scheme_end == std::string::npos ? std::string() : url.substr(0, scheme_end);
    std::string rest = scheme_end == std::string::npos ? url : url.substr(scheme_end + 3);
    const auto at = rest.rfind('@', rest.find('/'));
    out.shown = url_for_message(url);
    if (scheme == "rediss")
        refuse_redis_url(out.shown, "TLS (rediss://) needs hiredis 1.x with hiredis_ssl; this build has hiredis 0.14 — "
                                    "use redis:// on a private network, or a TLS tunnel");
    if (scheme != "redis") refuse_redis_url(out.shown, "expected redis://[user:password@]host:port/db");
    if (at != std::string::npos) {
        const std::string credentials = rest.substr(0, at);
        const auto colon = credentials.find(':');
        if (colon == std::string::npos) {
            out.password = credentials;  // redis://password@host, as redis-cli -u reads it
        } else {
            out.user = credentials.substr(0, colon);
            out.password = credentials.substr(colon + 1);
        }
        rest = rest.substr(at + 1);
    }
    const auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos && slash + 1 < rest.size())
        out.db = static_cast<unsigned>(parse_number(rest.substr(slash + 1), 15, out.shown, "database"));
    const auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
        out.port = static_cast<std::uint16_t>(parse_number(authority.substr(colon + 1), 65535, out.shown, "port"));
        if (out.port == 0) refuse_redis_url(out.shown, "the port must be from 1 to 65535");
        authority.resize(colon);
    }
    if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']')
        authority = authority.substr(1, authority.size() - 2);
    if (authority.empty()) refuse_redis_url(out.shown, "no host");
    out.host = std::move(authority);
    return out;
}

std::vector<std::string> keep_startup_settings(const config& running, config& reloaded) {
    std::vector<std::string> differed;
    const auto keep = [&](auto& value, const auto& running_value, const char* name) {
        if (value == running_value) return;
        value = running_value;
        differed.emplace_back(name);
    };
    // Compared as parsed: `:3001` and `0.0.0.0:3001` are one address.
    if (reloaded.listen_host != running.listen_host || reloaded.listen_port != running.listen_port)
        differed.emplace_back("ADDR/addr");
    reloaded.addr = running.addr;
    reloaded.listen_host = running.listen_host;
    reloaded.listen_port = running.listen_port;
    keep(reloaded.max_connections, running.max_connections, "MAX_CONNECTIONS/max_connections");
    keep(reloaded.max_body_bytes, running.max_body_bytes, "MAX_BODY_BYTES/max_body_bytes");
    keep(reloaded.keep_alive_timeout_seconds, running.keep_alive_timeout_seconds, "keep_alive_timeout_seconds");
    keep(reloaded.client_read_timeout_seconds, running.client_read_timeout_seconds,
         "CLIENT_READ_TIMEOUT_SECONDS/client_read_timeout_seconds");
    keep(reloaded.client_header_timeout_seconds, running.client_header_timeout_seconds,
         "CLIENT_HEADER_TIMEOUT_SECONDS/client_header_timeout_seconds");
    keep(reloaded.client_body_timeout_seconds, running.client_body_timeout_seconds,
         "CLIENT_BODY_TIMEOUT_SECONDS/client_body_timeout_seconds");
    keep(reloaded.log_format, running.log_format, "LOG_FORMAT/log_format");
    return differed;
}

std::string_view to_string(key_source source) noexcept {
    switch (source) {
        case key_source::none: return "none";
        case key_source::provider_api_keys: return "PROVIDER_API_KEYS";
        case key_source::provider_api_keys_file: return "PROVIDER_API_KEYS_FILE";
        case key_source::provider_api_key: return "PROVIDER_API_KEY";
        case key_source::nvidia_keys: return "nvidia_keys";
        case key_source::nvidia_key: return "nvidia_key";
    }
    return "none";
}

collected_keys collect_keys(const key_sources& sources) {
    collected_keys out;
    add_comma_separated_keys(out.keys, sources.provider_api_keys);
    if (!out.keys.empty()) {
        out.source = key_source::provider_api_keys;
        return out;
    }
    add_keys_file_keys(out.keys, sources.provider_api_keys_file);
    if (!out.keys.empty()) {
        out.source = key_source::provider_api_keys_file;
        return out;
    }
    add_key(out.keys, sources.provider_api_key);
    if (!out.keys.empty()) {
        out.source = key_source::provider_api_key;
        return out;
    }
    for (const std::string& key : sources.nvidia_keys) add_key(out.keys, key);
    if (!out.keys.empty()) {
        out.source = key_source::nvidia_keys;
        return out;
    }
    add_key(out.keys, sources.nvidia_key);
    if (!out.keys.empty()) out.source = key_source::nvidia_key;
    return out;
}

std::string describe_model_mapping(const config& cfg) {
    const auto& request = cfg.request;
    std::string line = "model mapping: ";
    if (request.model_map.empty() && request.default_model.empty())
        return line + "none, client model names go upstream unchanged (set MODEL_MAP or DEFAULT_MODEL; "
                      "docs/claude-code.md)";
    for (std::size_t i = 0; i < request.model_map.size(); ++i) {
        const auto& alias = request.model_map[i];
        line += (i == 0 ? "" : ", ") + alias.pattern + " -> " + alias.upstream_model;
    }
    if (!request.model_map.empty()) line += " (from " + cfg.model_map_from + ")";
    if (!request.default_model.empty()) {
        line += std::string(request.model_map.empty() ? "" : "; ") + "other claude* names -> " +
                request.default_model + " (from " + cfg.default_model_from + ")";
    }
    return line;
}

std::string help_text() {
    std::string text;
    text += "claude-nvidia-proxy ";
    text += msgbridge::version_string;
    text += R"( - Anthropic Messages API in front of an OpenAI Chat Completions upstream

Usage: claude-nvidia-proxy [--config FILE] [--help] [--version]

Reads config.json (CONFIG_PATH, default ./config.json), then the environment:
  CONFIG_PATH                     config file (default config.json; a missing default file is fine)
  PROVIDER_API_KEY                one upstream key (overrides nvidia_key)
  PROVIDER_API_KEYS               comma-separated upstream keys for rotation (overrides nvidia_keys)
  PROVIDER_API_KEYS_FILE          file of upstream keys (one a line, # comments), instead of PROVIDER_API_KEYS;
                                  re-read on SIGHUP
  KEY_ROTATION                    round_robin (default), random, least_used
  REDIS_URL                       redis://[user:password@]host:port/db: key state shared between instances
  KEY_RPM                         requests per minute per upstream key, 0 = unpaced (default 0; per-key
                                  overrides: nvidia_keys entries {"key": ..., "rpm": N})
  UPSTREAM_URL                    overrides nvidia_url
                                  (default https://integrate.api.nvidia.com/v1/chat/completions)
  SERVER_API_KEY                  require Authorization: Bearer <key> or x-api-key: <key>
  ADDR                            listen address (default :3001)
  UPSTREAM_TIMEOUT_SECONDS        whole non-streaming upstream request (default 300)
  LOG_BODY_MAX_CHARS              request body logging (default 4096, 0 = off)
  LOG_STREAM_TEXT_PREVIEW_CHARS   stream text preview in logs (default 256, 0 = off)
  LOG_FORMAT                      text (default) or json: one JSON object per line
  LOG_LEVEL                       debug, info (default), warn, error; SIGHUP applies a change
  MAX_BODY_BYTES                  request body limit, 413 above (default 33554432)
  MAX_CONNECTIONS                 connections served at once, 529 beyond (default 1024)
  CONNECT_TIMEOUT_SECONDS         upstream connect timeout (default 10)
  STREAM_IDLE_TIMEOUT_SECONDS     upstream silence that ends a stream (default 300)
  PING_INTERVAL_SECONDS           ping events while the upstream is silent (default 5)
  STREAM_COMMIT_AFTER_SECONDS     start a stream whose upstream has not answered yet (default 5, 0 = wait)
  SHUTDOWN_GRACE_SECONDS          SIGINT/SIGTERM: time for running streams (default 30)
  CLIENT_READ_TIMEOUT_SECONDS     longest silence while reading a client's request body (default 30)
  CLIENT_HEADER_TIMEOUT_SECONDS   time a request head has to arrive whole (default 10)
  CLIENT_BODY_TIMEOUT_SECONDS     time a request body has to arrive whole, once its head has (default 300)
  MAX_UPSTREAM_RESPONSE_BYTES     one upstream answer (stream or not) is cut above this (default 268435456)
  MAX_RETRY_AFTER_SECONDS         longest key cooldown an upstream Retry-After can ask for (default 300)
  AUTH_QUARANTINE_BASE_SECONDS    first quarantine of a key after 401/403, doubling per repeat (default 5)
  AUTH_QUARANTINE_MAX_SECONDS     longest quarantine of a key after 401/403 (default 900)
  HEALTH_DEGRADED_AFTER_FAILURES  /health says degraded after this many failed upstream attempts in a row,
                                  0 = never (default 5)
  HEALTH_DEGRADED_WINDOW_SECONDS  … while the last of them is at most this old (default 300)
  ANSWER_QUOTA_PROBE              answer Claude Code's max_tokens:1 probe locally (default true)
  MODEL_MAP                       client model globs to upstream models, first match wins, e.g.
                                  claude-sonnet-*=z-ai/glm5,claude-haiku-*=minimaxai/minimax-m2.1
                                  (replaces config.json's model_map)
  DEFAULT_MODEL                   upstream model for claude-* names no model_map entry matches
  FORWARD_USER_ID                 metadata.user_id upstream as `user`: off (default), as_is, hash
  UPSTREAM_CA_FILE                extra CA bundle (PEM) for the upstream, default: system store

See docs/configuration.md for every config.json setting.
)";
    return text;
}

}  // namespace proxy
