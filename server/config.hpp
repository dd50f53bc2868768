// The proxy's configuration: config.json, then environment overrides with
// the Go original's names and defaults, then the command line.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgbridge/keys.hpp>
#include <msgbridge/options.hpp>

#include "log.hpp"

namespace proxy {

/// The places keys come from, highest precedence first. Fill in what is
/// set; an unset variable and an empty one are the same.
struct key_sources {
    std::string provider_api_keys;         ///< env `PROVIDER_API_KEYS`, comma-separated
    /// The text of the file env `PROVIDER_API_KEYS_FILE` names: keys one a
    /// line or comma-separated, `#` starting a comment to the end of its line.
    std::string provider_api_keys_file;
    std::string provider_api_key;          ///< env `PROVIDER_API_KEY`, one key
    std::vector<std::string> nvidia_keys;  ///< config `nvidia_keys`
    /// config `nvidia_keys` entries written `{"key": …, "rpm": N}`: pacing apart from `key_rpm`.
    std::vector<msgbridge::key_budget> nvidia_key_rpm;
    std::string nvidia_key;                ///< config `nvidia_key` (deprecated)
};

/// Which source the keys were taken from.
enum class key_source { none, provider_api_keys, provider_api_keys_file, provider_api_key, nvidia_keys, nvidia_key };

/// The name a user knows `source` by: `PROVIDER_API_KEYS`, …, `nvidia_key`; `none`.
std::string_view to_string(key_source source) noexcept;

/// The keys in use and where they came from.
struct collected_keys {
    std::vector<std::string> keys;  ///< trimmed, no blanks, no duplicates, in the source's order
    key_source source = key_source::none;
};

/// The keys of the highest-precedence source that yields at least one key
/// (`PROVIDER_API_KEYS` > `PROVIDER_API_KEYS_FILE` > `PROVIDER_API_KEY` >
/// `nvidia_keys` > `nvidia_key`),
/// the Go original's contract; sources are never merged. No keys at all is
/// allowed: local upstreams need none.
collected_keys collect_keys(const key_sources& sources);

/// The largest `key_rpm` (and per-key `rpm`) accepted: far above any upstream's budget.
inline constexpr std::uint32_t max_key_rpm = 1000000;

/// Everything the server needs to start. Defaults are the Go original's
/// where it had the setting, ours (documented in docs/configuration.md)
/// where it did not.
struct config {
    // --- the Go original's settings ---
    std::string upstream_url = "https://integrate.api.nvidia.com/v1/chat/completions";
    proxy::key_sources key_sources;  ///< every place keys were given
    std::vector<std::string> keys;   ///< the keys in use (collect_keys of key_sources), in rotation order
    key_source keys_from = key_source::none;
    std::string keys_file;  ///< env PROVIDER_API_KEYS_FILE, read at start and at every reload; empty: none
    msgbridge::rotation key_rotation = msgbridge::rotation::round_robin;
    std::uint32_t key_rpm = 0;  ///< requests per minute per key, 0: unpaced (overrides: key_sources.nvidia_key_rpm)
    std::string server_api_key;     ///< inbound auth; empty: none
    std::string addr = ":3001";
    unsigned upstream_timeout_seconds = 300;
    std::size_t log_body_max_chars = 4096;
    std::size_t log_stream_text_preview_chars = 256;

    // --- additions ---
    msgbridge::request_options request;        ///< model_map, default_model, profiles (profile_table())
    /// config `models`: profiles put in front of the shipped ones (first match wins).
    std::vector<msgbridge::model_profile> user_models;
    /// config `models_replace_defaults`: `models` is the whole table, the shipped profiles are left out.
    bool models_replace_defaults = false;
    std::size_t max_body_bytes = 32u << 20;    ///< 413 above this
    std::size_t max_connections = 1024;        ///< concurrent connections served; beyond: 529
    unsigned connect_timeout_seconds = 10;
    unsigned stream_idle_timeout_seconds = 300;  ///< upstream silence that ends a stream
    unsigned ping_interval_seconds = 5;          ///< ping events during upstream silence
    unsigned stream_commit_after_seconds = 5;    ///< a stream whose upstream has not answered starts anyway (0: waits)
    unsigned shutdown_grace_seconds = 30;        ///< SIGTERM: time given to running streams
    unsigned keep_alive_timeout_seconds = 5;     ///< idle inbound keep-alive connections (shutdown waits this long at most)
    unsigned client_read_timeout_seconds = 30;   ///< longest silence while reading a client's request body (slow clients are cut)
    unsigned client_header_timeout_seconds = 10; ///< a request head must arrive whole within this (slowloris)
    unsigned client_body_timeout_seconds = 300;  ///< a request body must arrive whole within this, once its head has
    std::size_t max_upstream_response_bytes = std::size_t{256} << 20;  ///< one upstream answer larger than this is cut
    unsigned max_retry_after_seconds = 300;      ///< longest cooldown an upstream Retry-After can put on a key
    unsigned auth_quarantine_base_seconds = 5;   ///< first quarantine of a key after 401/403; doubles per repeat
    unsigned auth_quarantine_max_seconds = 900;  ///< longest quarantine of a key after 401/403
    /// /health and /status say the upstream is degraded once this many
    /// attempts in a row failed (0: never) …
    unsigned health_degraded_after_failures = 5;
    unsigned health_degraded_window_seconds = 300;  ///< … and the last of them is at most this old
    proxy::log_format log_format = proxy::log_format::text;  ///< LOG_FORMAT: text or json; fixed at start
    proxy::log_level log_level = proxy::log_level::info;     ///< LOG_LEVEL: debug … error; a reload changes it
    bool answer_quota_probe = true;              ///< Claude Code's max_tokens:1 "quota" probe answered locally
    std::string ca_cert_file;                    ///< extra CA bundle for the upstream; empty: system store
    /// REDIS_URL: where instances share key state (parse_redis_url checks it at start); empty: not shared.
    std::string redis_url;
    /// config `upstream_headers`: sent on every upstream request after the
    /// proxy's own (e.g. OpenAI-Organization); names checked at start, values never logged.
    std::vector<std::pair<std::string, std::string>> upstream_headers;

    // --- derived from addr ---
    std::string listen_host = "0.0.0.0";
    int listen_port = 3001;

    /// Where model_map and default_model were set ("MODEL_MAP", "config.json: model_map"), for the start-up log.
    std::string model_map_from;
    std::string default_model_from;

    /// Where the file came from (for the start-up log), empty when none was read.
    std::string config_path_used;
    /// Notes for the start-up log (deprecated keys, missing default file).
    std::vector<std::string> notes;
};

/// Reads an environment variable; injectable so tests do not touch the process environment.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment.
env_lookup process_env();

/// What the command line asked for.
enum class cli_action { run, help, version };

/// Parses argv: `--help`/`-h`, `--version`/`-V`, `--config PATH` (same as CONFIG_PATH).
/// Throws `config_error` for anything else.
cli_action parse_command_line(int argc, const char* const* argv, std::string& config_path_override);

/// A configuration that cannot start the server; `what()` is one line naming the setting.
struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Loads config.json (CONFIG_PATH, default ./config.json; a missing default
/// file is fine, a missing named one is not), then applies the environment.
/// Throws `config_error` on the first bad value.
config load_config(const env_lookup& env, const std::string& config_path_override = {});

/// Parses one config.json text into `cfg` (exposed for tests). `origin` names the file in errors.
void apply_config_json(const std::string& json_text, const std::string& origin, config& cfg);

/// An upstream URL taken apart by parse_upstream_url.
struct upstream_url {
    std::string scheme;      ///< `http` or `https`
    std::string host;        ///< as written; an IPv6 address keeps its brackets (`[::1]`)
    std::uint16_t port = 0;  ///< as written, else the scheme's default (80, 443)
    std::string authority;   ///< `host[:port]` as written: how messages name the upstream
    std::string path;        ///< from the first `/` or `?`, query kept, fragment dropped; at least `/`
    [[nodiscard]] bool https() const { return scheme == "https"; }
};

/// Takes an `http://` or `https://` URL apart. Throws `config_error` naming
/// `UPSTREAM_URL/nvidia_url` (with any `user:password@` shown as `***@`) for
/// a URL the proxy must not use: another scheme, a space or control
/// character, credentials, no host, an unclosed IPv6 address, a port that is
/// empty or outside 1-65535.
upstream_url parse_upstream_url(const std::string& url);

/// REDIS_URL taken apart: `redis://[[user]:password@]host[:port][/db]`.
struct redis_endpoint {
    std::string host;
    std::uint16_t port = 6379;
    std::string user;      ///< empty: the default user
    std::string password;  ///< empty: no AUTH
    unsigned db = 0;
    std::string shown;     ///< the URL with any credentials replaced by `***@`: what logs say
};

/// Parses REDIS_URL. Throws `config_error` naming `REDIS_URL/redis_url` (never
/// the password) for another scheme — `rediss://` included: hiredis 0.14, the
/// Debian 12 version, has no TLS —, no host, a bad port or db.
redis_endpoint parse_redis_url(const std::string& url);

/// Settings bound when the server starts (listen address, connection cap,
/// body limit, inbound timeouts) cannot follow a reload: copies them from
/// `running` into `reloaded` and returns the names of those that differed.
std::vector<std::string> keep_startup_settings(const config& running, config& reloaded);

/// Splits ADDR (`:3001`, `127.0.0.1:8080`, `[::1]:3001`, `localhost:0`) into host and port.
void parse_listen_addr(const std::string& addr, std::string& host, int& port);

/// True for 127.0.0.0/8, ::1 and localhost.
bool is_loopback_host(const std::string& host);

/// "model mapping: claude-sonnet-* -> z-ai/glm5, … (from MODEL_MAP); other claude* names -> …": the start-up log line.
std::string describe_model_mapping(const config& cfg);

/// The profile table in effect: `user_models`, then the shipped
/// `default_profiles()` unless `models_replace_defaults`.
std::vector<msgbridge::model_profile> profile_table(const config& cfg);

/// One start-up log line per profile, in match order: "model profile: MATCH -> max output …, vision …".
std::vector<std::string> describe_profiles(const std::vector<msgbridge::model_profile>& profiles);

/// The text printed by `--help`.
std::string help_text();

}  // namespace proxy
