// Scale-out with real processes on loopback: redis-server, two proxy
// binaries sharing it through REDIS_URL, and nginx in front of both, against
// the mock upstream (docs/scale-out.md). Skipped, saying why, where
// redis-server or nginx is not installed.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.hpp"
#include "support/mock_upstream.hpp"
#include "support/redis_test_support.hpp"

namespace {

using namespace redis_test;

const std::string proxy_binary = CLAUDE_NVIDIA_PROXY_BINARY;
constexpr const char* nginx_binary = "/usr/sbin/nginx";

std::string key(int i) { return "nvapi-scaleout-0000000000" + std::to_string(i); }
std::string bearer(int i) { return "Bearer " + key(i); }

struct instance {
    std::unique_ptr<mock::child_process> process;
    int port = 0;
    httplib::Client client() const {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(mock::patience);
        return c;
    }
};

instance start_proxy(const mock::upstream& up, const redis_server& redis, std::vector<std::string> extra_env) {
    std::vector<std::string> env{"UPSTREAM_URL=" + up.url(), "ADDR=127.0.0.1:0",
                                 "REDIS_URL=" + redis.url()};
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    instance out;
    out.process = std::make_unique<mock::child_process>(std::vector<std::string>{proxy_binary}, env);
    out.port = out.process->port();
    REQUIRE(out.port > 0);
    return out;
}

int post(const instance& proxy, bool stream = false) {
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(stream), "application/json");
    return res ? res->status : -1;
}

std::string health(const instance& proxy) {
    auto res = proxy.client().Get("/health");
    return res ? res->body : std::string();
}

std::string metrics(const instance& proxy) {
    auto res = proxy.client().Get("/metrics");
    return res ? res->body : std::string();
}

// Asks /health alone, sending no request, until it says `state`: only the
// background reconnect can bring it there. Bounded in count, not timed.
bool health_reaches(const instance& proxy, const std::string& state) {
    for (int i = 0; i < 200; ++i) {
        if (health(proxy).find("\"shared_state\":\"" + state + "\"") != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

// Requests through `proxy` until its /health says `state`; bounded in count, not timed.
bool reaches_shared_state(const instance& proxy, const std::string& state) {
    for (int i = 0; i < 100; ++i) {
        if (health(proxy).find("\"shared_state\":\"" + state + "\"") != std::string::npos) return true;
        (void)post(proxy);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace

TEST_CASE("scale-out: a 429 learned through one instance makes the other skip that key", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        if (r.authorization == bearer(1))
            return mock::json(429, R"({"error":{"message":"slow down"}})", {{"Retry-After", "30"}});
        return mock::json(200, mock::completion("ok"));
    });
    const std::string keys = "PROVIDER_API_KEYS=" + key(1) + "," + key(2);
    auto a = start_proxy(up, redis, {keys});
    auto b = start_proxy(up, redis, {keys});
    CHECK(health(a).find(R"("shared_state":"ok")") != std::string::npos);

    CHECK(post(a) == 200);
    CHECK(up.authorizations() == std::vector<std::string>{bearer(1), bearer(2)});
    // b's turn would be key 1 now or next; it rests in Redis, so b sends key 2 only.
    CHECK(post(b) == 200);
    CHECK(post(b) == 200);
    CHECK(up.authorizations() == std::vector<std::string>{bearer(1), bearer(2), bearer(2), bearer(2)});
}

TEST_CASE("scale-out: KEY_RPM is one budget across instances", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    auto a = start_proxy(up, redis, {"PROVIDER_API_KEY=" + key(1), "KEY_RPM=3"});
    auto b = start_proxy(up, redis, {"PROVIDER_API_KEY=" + key(1), "KEY_RPM=3"});

    std::vector<int> statuses{post(a), post(b), post(a), post(b), post(a)};
    // Alone, each would have allowed 3.
    CHECK(statuses == std::vector<int>{200, 200, 200, 429, 429});
    CHECK(up.requests().size() == 3);
}

TEST_CASE("scale-out: without Redis traffic flows on local state, and sharing resumes when it is back",
          "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    const std::string keys = "PROVIDER_API_KEYS=" + key(1) + "," + key(2);
    auto a = start_proxy(up, redis, {keys});
    auto b = start_proxy(up, redis, {keys});
    CHECK(post(a) == 200);
    CHECK(metrics(a).find("claude_nvidia_proxy_shared_state_up 1") != std::string::npos);

    redis.stop();  // SIGKILL
    CHECK(post(a) == 200);
    CHECK(post(b) == 200);
    CHECK(reaches_shared_state(a, "degraded"));
    CHECK(a.process->wait_for("shared key state: Redis at " + redis.url() + " failed"));
    const std::string down = metrics(a);
    CHECK(down.find("claude_nvidia_proxy_shared_state_up 0") != std::string::npos);
    CHECK(down.find("claude_nvidia_proxy_shared_state_unavailable_total 0") == std::string::npos);
    CHECK(down.find("claude_nvidia_proxy_shared_state_unavailable_total") != std::string::npos);
    const auto page = a.client().Get("/status");
    REQUIRE(page);
    CHECK(page->body.find("Redis at <code>" + redis.url() + "</code> cannot be reached") != std::string::npos);

    redis.start();
    // No request is needed: each instance reconnects in the background.
    CHECK(health_reaches(a, "ok"));
    CHECK(health_reaches(b, "ok"));
    CHECK(metrics(a).find("claude_nvidia_proxy_shared_state_up 1") != std::string::npos);
    // Requests go on through the replaced connections without another outage line.
    CHECK(post(a) == 200);
    CHECK(post(b) == 200);
    CHECK(health(a).find(R"("shared_state":"ok")") != std::string::npos);
    CHECK(mock::child_process::count_of(a.process->output(), "failed (") == 1);  // logged once per outage
}

TEST_CASE("scale-out: a Redis that stops answering costs requests at most the deadline, never their answer",
          "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server redis;
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    auto a = start_proxy(up, redis, {"PROVIDER_API_KEY=" + key(1), "KEY_RPM=1000"});
    CHECK(post(a) == 200);

    // Frozen, not gone: connections are accepted and never answered.
    REQUIRE(kill(redis.process->pid(), SIGSTOP) == 0);
    for (int i = 0; i < 5; ++i) CHECK(post(a) == 200);
    CHECK(health(a).find(R"("shared_state":"degraded")") != std::string::npos);
    CHECK(a.process->wait_for("failed ("));

    REQUIRE(kill(redis.process->pid(), SIGCONT) == 0);
    CHECK(health_reaches(a, "ok"));
    CHECK(post(a) == 200);
    CHECK(mock::child_process::count_of(a.process->output(), "failed (") == 1);
}

TEST_CASE("scale-out: streams through nginx in front of two instances", "[scaleout]") {
    if (!installed(redis_binary, "redis-server") || !installed(nginx_binary, "nginx-light")) return;
    redis_server redis;
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::sse(mock::text_stream({"hel", "lo"})); });
    auto a = start_proxy(up, redis, {"PROVIDER_API_KEY=" + key(1)});
    auto b = start_proxy(up, redis, {"PROVIDER_API_KEY=" + key(1)});

    const int nginx_port = free_port();
    temp_dir dir;  // nginx's prefix: its configuration, logs and buffers
    std::filesystem::create_directories(dir.path + "/logs");
    // One process (master_process off): no orphaned worker keeps the output pipe open after a kill.
    std::ofstream(dir.path + "/nginx.conf") << "daemon off;\nmaster_process off;\npid " << dir.path
                                            << "/nginx.pid;\nerror_log " << dir.path << "/logs/error.log;\n"
                                            << "events { worker_connections 64; }\nhttp {\n"
                                            << "  access_log off;\n  client_body_temp_path " << dir.path << "/body;\n"
                                            << "  proxy_temp_path " << dir.path << "/proxy;\n"
                                            << "  upstream claude_nvidia_proxy {\n"
                                            << "    server 127.0.0.1:" << a.port << ";\n"
                                            << "    server 127.0.0.1:" << b.port << ";\n  }\n"
                                            << "  server {\n    listen 127.0.0.1:" << nginx_port << ";\n"
                                            << "    location / {\n      proxy_pass http://claude_nvidia_proxy;\n"
                                            << "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
                                            << "      proxy_buffering off;\n      proxy_read_timeout 600s;\n"
                                            << "    }\n  }\n}\n";
    mock::child_process nginx({nginx_binary, "-p", dir.path, "-c", dir.path + "/nginx.conf", "-e",
                               dir.path + "/logs/error.log"},
                              {}, dir.path);
    instance front;
    front.port = nginx_port;
    // nginx says nothing when it is ready: ask it until it answers, a bounded number of times.
    bool up_and_running = false;
    for (int i = 0; i < 100 && !up_and_running; ++i) {
        up_and_running = front.client().Get("/health") != nullptr;
        if (!up_and_running) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(up_and_running);

    for (int i = 0; i < 4; ++i) {
        auto res = front.client().Post("/v1/messages", mock::messages_body(true), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->get_header_value("Content-Type").find("text/event-stream") == 0);
        CHECK(res->body.find("event: message_stop") != std::string::npos);
        CHECK(res->body.find(R"("text":"hel")") != std::string::npos);
    }
    // nginx's round robin reached both instances.
    CHECK(a.process->output().find("POST /v1/messages") != std::string::npos);
    CHECK(b.process->output().find("POST /v1/messages") != std::string::npos);
}

TEST_CASE("scale-out: a reload turns sharing on, moves it to another Redis, and turns it off", "[scaleout]") {
    if (!installed(redis_binary, "redis-server")) return;
    redis_server first;
    redis_server second;
    redis_probe in_first(first.port);
    redis_probe in_second(second.port);
    mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("ok")); });
    auto cfg = mock::test_config(up.url(), {key(1), key(2)});
    mock::running_proxy proxy(cfg);
    auto client = proxy.client();
    const auto shared_state = [&]() -> std::string {
        auto res = client.Get("/health");
        REQUIRE(res);
        const auto at = res->body.find(R"("shared_state":")");
        return at == std::string::npos ? "absent" : res->body.substr(at + 16, res->body.find('"', at + 16) - at - 16);
    };
    const auto post_ok = [&] {
        auto res = client.Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
    };
    const auto reload = [&] {
        proxy.service().reload(cfg, proxy::make_http_transport(proxy::upstream_settings_from(cfg)));
    };
    const std::string cursor = "claude-nvidia-proxy:cursor";
    CHECK(shared_state() == "absent");

    cfg.redis_url = first.url();
    reload();
    CHECK(shared_state() == "ok");
    post_ok();
    CHECK(in_first.reply("GET", {cursor}) == "1");

    reload();  // REDIS_URL unchanged: the same connections, no second "connected" line
    post_ok();
    CHECK(in_first.reply("GET", {cursor}) == "2");
    CHECK(mock::child_process::count_of(proxy.log_text(), "Redis at " + first.url() + " connected") == 1);

    cfg.redis_url = second.url();
    reload();
    post_ok();
    CHECK(in_second.reply("GET", {cursor}) == "1");
    CHECK(in_first.reply("GET", {cursor}) == "2");

    cfg.redis_url.clear();
    reload();
    CHECK(shared_state() == "absent");
    post_ok();
    CHECK(in_second.reply("GET", {cursor}) == "1");
}
