// claude-nvidia-proxy: Anthropic's Messages API in front of an OpenAI
// Chat Completions upstream. See docs/server.md and docs/configuration.md.
// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <msgbridge/version.hpp>

#include "config.hpp"
#include "http_adapter.hpp"
#include "log.hpp"
#include "proxy.hpp"
#include "upstream.hpp"

namespace {

std::string rotation_name(msgbridge::rotation r) { return std::string(msgbridge::to_string(r)); }

}  // namespace

int main(int argc, char** argv) {
    using namespace proxy;
    logger log;

    config cfg;
    try {
        std::string config_override;
        switch (parse_command_line(argc, argv, config_override)) {
            case cli_action::help: std::cout << help_text(); return 0;
            case cli_action::version: std::cout << "claude-nvidia-proxy " << msgbridge::version_string << "\n"; return 0;
            case cli_action::run: break;
        }
        cfg = load_config(process_env(), config_override);
    } catch (const config_error& e) {
        std::cerr << "claude-nvidia-proxy: configuration error: " << e.what() << "\n";
        return 2;
    }

    // Signals are taken by one thread with sigwait; every other thread
    // (httplib's, ours) inherits the blocked mask from here.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that vanishes must not kill the process (OpenSSL writes without MSG_NOSIGNAL)

    for (const auto& note : cfg.notes) log.line("config: " + note);
    std::unique_ptr<upstream_transport> transport;
    try {
        transport = make_http_transport(upstream_settings_from(cfg));
    } catch (const std::exception& e) {
        std::cerr << "claude-nvidia-proxy: configuration error: " << e.what() << "\n";
        return 2;
    }

    service svc(cfg, *transport, log);
    http_server server(cfg, svc);
    int port = 0;
    try {
        port = server.bind();
    } catch (const std::exception& e) {
        std::cerr << "claude-nvidia-proxy: " << e.what() << "\n";
        return 1;
    }

    if (cfg.keys.empty()) {
        log.line("warning: no upstream keys configured (nvidia_keys / PROVIDER_API_KEYS): requests go upstream "
                 "without an Authorization header");
    } else {
        std::string ids;
        for (std::size_t i = 0; i < cfg.keys.size(); ++i)
            ids += (i == 0 ? "" : ",") + msgbridge::redact_key(cfg.keys[i], i);
        log.line("upstream keys: " + std::to_string(cfg.keys.size()) + " from " +
                 std::string(to_string(cfg.keys_from)) + " [" + ids + "], rotation " +
                 rotation_name(cfg.key_rotation));
    }
    if (cfg.server_api_key.empty() && !is_loopback_host(cfg.listen_host)) {
        log.line("WARNING: ************************************************************************");
        log.line("WARNING: the proxy accepts connections on " + cfg.listen_host + " without SERVER_API_KEY: anyone who can reach");
        log.line("WARNING: this port spends your upstream keys. Set SERVER_API_KEY or ADDR=127.0.0.1:" +
                 std::to_string(port));
        log.line("WARNING: ************************************************************************");
    }
    log.line("claude-nvidia-proxy " + std::string(msgbridge::version_string) + " upstream " + cfg.upstream_url);
    // Tests and scripts read the bound port from this line (ADDR may say port 0).
    log.line("listening on " + cfg.listen_host + ":" + std::to_string(port));

    std::atomic<bool> finished{false};
    std::thread signal_thread([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        if (finished) return;
        log.line(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                 ": no new connections; running streams get " + std::to_string(cfg.shutdown_grace_seconds) + " s");
        svc.begin_shutdown();
        server.stop_accepting();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.shutdown_grace_seconds);
        auto wait_streams = [&](std::chrono::steady_clock::time_point until) {
            while (!finished && svc.active_streams() > 0 && std::chrono::steady_clock::now() < until) {
                // A second signal cuts the wait short.
                timespec tick{0, 50 * 1000 * 1000};
                siginfo_t info;
                if (sigtimedwait(&signals, &info, &tick) > 0) return;
            }
        };
        wait_streams(deadline);
        if (svc.active_streams() > 0) {
            log.line("grace period over: ending " + std::to_string(svc.active_streams()) + " stream(s) with an error event");
            svc.abort_streams();
            wait_streams(std::chrono::steady_clock::now() + std::chrono::seconds(5));
        }
        // Idle keep-alive connections end now; a request still waiting for
        // the upstream gets until the hard deadline below.
        server.close_connections();
        auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.keep_alive_timeout_seconds + 2);
        while (!finished && std::chrono::steady_clock::now() < hard) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (!finished) {
            log.line("requests still running after the grace period; exiting");
            std::fflush(stderr);
            std::_Exit(0);
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
