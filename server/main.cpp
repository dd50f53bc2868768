// claude-nvidia-proxy: Anthropic's Messages API in front of an OpenAI
// Chat Completions upstream. See docs/server.md and docs/configuration.md.
// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <msgbridge/version.hpp>

#include "config.hpp"
#include "http_adapter.hpp"
#include "log.hpp"
#include "proxy.hpp"
#include "upstream.hpp"

namespace {

using namespace proxy;
using steady = std::chrono::steady_clock;

// Signals are taken by one thread with sigwait; every other thread (httplib's,
// ours) inherits the blocked mask from the caller.
sigset_t block_handled_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that vanishes must not kill the process (OpenSSL writes without MSG_NOSIGNAL)
    return signals;
}

// Waiting connections cost a descriptor each, not a thread, so the soft
// limit (often 1024) would be reached long before the machine's: raise it to
// the hard limit, as Go does at start. Returns the limit in force.
rlim_t raise_descriptor_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
    }
    return lim.rlim_cur;
}

// "3 from nvidia_keys [nvapi-…3f9a#0,…], rotation round_robin, at most 40 requests per minute per key":
// never a key itself.
std::string describe_keys(const config& cfg) {
    std::string ids;
    for (std::size_t i = 0; i < cfg.keys.size(); ++i) ids += (i == 0 ? "" : ",") + msgbridge::redact_key(cfg.keys[i], i);
    std::string line = std::to_string(cfg.keys.size()) + " from " + std::string(to_string(cfg.keys_from)) + " [" +
                       ids + "], rotation " + std::string(msgbridge::to_string(cfg.key_rotation));
    if (cfg.key_rpm > 0) line += ", at most " + std::to_string(cfg.key_rpm) + " requests per minute per key";
    if (cfg.keys_from == key_source::nvidia_keys && !cfg.key_sources.nvidia_key_rpm.empty())
        line += ", " + std::to_string(cfg.key_sources.nvidia_key_rpm.size()) + " paced apart (nvidia_keys \"rpm\")";
    return line;
}

void warn_if_open_to_anyone(const logger& log, const config& cfg, int port) {
    if (cfg.server_api_key.empty() && !is_loopback_host(cfg.listen_host)) {
        log.line("WARNING: ************************************************************************", log_level::warn);
        log.line("WARNING: the proxy accepts connections on " + cfg.listen_host + " without SERVER_API_KEY: anyone who can reach",
                 log_level::warn);
        log.line("WARNING: this port spends your upstream keys. Set SERVER_API_KEY or ADDR=127.0.0.1:" +
                     std::to_string(port),
                 log_level::warn);
        log.line("WARNING: ************************************************************************", log_level::warn);
    }
}

void log_startup(const logger& log, const config& cfg, int port, rlim_t descriptor_limit) {
    if (cfg.keys.empty()) {
        log.line("warning: no upstream keys configured (nvidia_keys / PROVIDER_API_KEYS): requests go upstream "
                 "without an Authorization header",
                 log_level::warn);
    } else {
        log.line("upstream keys: " + describe_keys(cfg));
    }
    warn_if_open_to_anyone(log, cfg, port);
    log.line("claude-nvidia-proxy " + std::string(msgbridge::version_string) + " upstream " + cfg.upstream_url);
    log.line("connections: " + std::to_string(cfg.max_connections) + " served at once (MAX_CONNECTIONS), open descriptors up to " +
             std::to_string(descriptor_limit));
    log.line(describe_model_mapping(cfg));
    for (const auto& line : describe_profiles(profile_table(cfg))) log.line(line);
    // Tests and scripts read the bound port from this line (ADDR may say port 0).
    log.line("listening on " + cfg.listen_host + ":" + std::to_string(port));
}

// SIGHUP, on the signal thread: the configuration is read and checked again
// as at start; new requests get it, running ones finish on theirs. Anything
// wrong with it and the running configuration stays.
void reload(const std::string& config_override, const config& startup, const logger& log, service& svc, int port) {
    config next;
    std::shared_ptr<upstream_transport> transport;
    try {
        next = load_config(process_env(), config_override);
        transport = make_http_transport(upstream_settings_from(next));
    } catch (const std::exception& e) {
        log.line(std::string("reload refused: ") + e.what() + " (the running configuration stays)", log_level::error);
        return;
    }
    for (const auto& name : keep_startup_settings(startup, next))
        log.line("reload: " + name + " needs a restart to change; it keeps its value", log_level::warn);
    for (const auto& note : next.notes) log.line("config: " + note);
    svc.reload(next, std::move(transport));
    log.line("reload: upstream " + next.upstream_url + ", keys " +
             (next.keys.empty() ? std::string("none (no Authorization header upstream)") : describe_keys(next)));
    for (const auto& line : describe_profiles(profile_table(next))) log.line(line);
    warn_if_open_to_anyone(log, next, port);
}

// The graceful shutdown, on the signal thread: stop accepting, give running
// streams the grace period, end the rest with an error event, then close
// what is left. A second SIGINT or SIGTERM cuts each wait short.
void shut_down(const sigset_t& signals, int sig, const config& startup, const logger& log, service& svc,
               http_server& server, const std::atomic<bool>& finished) {
    const unsigned grace_seconds = svc.settings()->cfg.shutdown_grace_seconds;
    log.line(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
             ": no new connections; running streams get " + std::to_string(grace_seconds) + " s");
    svc.begin_shutdown();
    server.stop_accepting();
    auto wait_streams = [&](steady::time_point until) {
        while (!finished && svc.active_streams() > 0 && steady::now() < until) {
            timespec tick{0, 50 * 1000 * 1000};
            siginfo_t info;
            const int next = sigtimedwait(&signals, &info, &tick);
            if (next == SIGHUP) log.line("received SIGHUP while shutting down: not reloading");
            else if (next > 0) return;
        }
    };
    wait_streams(steady::now() + std::chrono::seconds(grace_seconds));
    if (svc.active_streams() > 0) {
        log.line("grace period over: ending " + std::to_string(svc.active_streams()) + " stream(s) with an error event",
                 log_level::warn);
        svc.abort_streams();
        wait_streams(steady::now() + std::chrono::seconds(5));
    }
    // Idle keep-alive connections end now; a request still waiting for the
    // upstream gets until the hard deadline below.
    server.close_connections();
    const auto hard = steady::now() + std::chrono::seconds(startup.keep_alive_timeout_seconds + 2);
    while (!finished && steady::now() < hard) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!finished) {
        log.line("requests still running after the grace period; exiting", log_level::warn);
        std::fflush(stderr);
        std::_Exit(0);
    }
}

// Exit status 2 and one line for a configuration that cannot start.
int configuration_error(const std::string& what) {
    std::cerr << "claude-nvidia-proxy: configuration error: " << what << "\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    std::string config_override;
    try {
        switch (parse_command_line(argc, argv, config_override)) {
            case cli_action::help: std::cout << help_text(); return 0;
            case cli_action::version: std::cout << "claude-nvidia-proxy " << msgbridge::version_string << "\n"; return 0;
            case cli_action::run: break;
        }
        cfg = load_config(process_env(), config_override);
    } catch (const config_error& e) {
        return configuration_error(e.what());
    }

    const logger log(standard_error_sink(), cfg.log_format, cfg.log_level);
    const sigset_t signals = block_handled_signals();
    for (const auto& note : cfg.notes) log.line("config: " + note);
    std::shared_ptr<upstream_transport> transport;
    try {
        transport = make_http_transport(upstream_settings_from(cfg));
    } catch (const std::exception& e) {
        return configuration_error(e.what());
    }

    const rlim_t descriptor_limit = raise_descriptor_limit();
    service svc(cfg, std::move(transport), log);
    http_server server(cfg, svc);
    int port = 0;
    try {
        port = server.bind();
    } catch (const std::exception& e) {
        return configuration_error(e.what());
    }
    log_startup(log, cfg, port, descriptor_limit);

    std::atomic<bool> finished{false};
    std::thread signal_thread([&] {
        for (;;) {
            int sig = 0;
            sigwait(&signals, &sig);
            if (finished) return;
            if (sig != SIGHUP) return shut_down(signals, sig, cfg, log, svc, server, finished);
            log.line("received SIGHUP: reloading the configuration");
            reload(config_override, cfg, log, svc, port);
        }
    });

    server.run();
    finished = true;
    log.line("stopped");
    // Wake the signal thread if it is still waiting for a first signal.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
    return 0;
}
