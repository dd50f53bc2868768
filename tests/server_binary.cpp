// The built claude-nvidia-proxy binary: the Go original's README curl
// examples, command line, start-up errors, SIGTERM, and its memory under attack.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "support/child_process.hpp"
#include "support/mock_upstream.hpp"
#include "support/raw_client.hpp"

namespace {

using mock::child_process;

std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
    return out;
}

bool have_curl() { return std::system("curl --version >/dev/null 2>&1") == 0; }

mock::reply answer(const mock::recorded& r) {
    if (r.body.find("\"stream\":true") != std::string::npos) return mock::sse(mock::text_stream({"hello", " from glm"}));
    return mock::json(200, mock::completion("hello from glm"));
}

const std::string binary = CLAUDE_NVIDIA_PROXY_BINARY;

}  // namespace

TEST_CASE("binary: the Go README's curl examples work against the built proxy", "[server][binary]") {
    if (!have_curl()) FAIL("curl is not installed on this machine");
    mock::upstream up([](const mock::recorded& r, std::size_t) { return answer(r); });
    child_process proxy({binary}, {"UPSTREAM_URL=" + up.url(), "ADDR=127.0.0.1:0",
                                   "PROVIDER_API_KEY=nvapi-binary-test-key-00000001"});
    int port = proxy.port();
    REQUIRE(port > 0);
    const std::string base = "NO_PROXY='*' no_proxy='*' ";
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/messages";

    // Example (non-stream), verbatim but for the port.
    auto plain = run(base + "curl -sS " + url + R"( \
  -H 'Content-Type: application/json' \
  -d '{
    "model":"z-ai/glm4.7",
    "max_tokens":256,
    "messages":[{"role":"user","content":"hello"}]
  }')");
    CHECK(plain.find(R"("type":"message")") != std::string::npos);
    CHECK(plain.find("hello from glm") != std::string::npos);

    // Example (stream).
    auto streamed = run(base + "curl -N " + url + R"( \
  -H 'Content-Type: application/json' \
  -d '{
    "model":"z-ai/glm4.7",
    "max_tokens":256,
    "stream":true,
    "messages":[{"role":"user","content":"hello"}]
  }' 2>/dev/null)");
    CHECK(streamed.find("event: message_start") != std::string::npos);
    CHECK(streamed.find(R"("text":" from glm")") != std::string::npos);
    CHECK(streamed.find("event: message_stop") != std::string::npos);

    auto seen = up.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].authorization == "Bearer nvapi-binary-test-key-00000001");

    proxy.signal(SIGTERM);
    CHECK(proxy.wait() == 0);
    auto log = proxy.output();
    CHECK(log.find("stream=false status=200") != std::string::npos);
    CHECK(log.find("stream=true status=200") != std::string::npos);
    CHECK(log.find("nvapi-binary-test-key-00000001") == std::string::npos);
}

TEST_CASE("binary: SIGTERM lets a running stream finish, then exits 0", "[server][binary]") {
    auto hold = std::make_shared<mock::gate>();
    mock::upstream up([&](const mock::recorded&, std::size_t) {
        auto r = mock::sse(mock::text_stream({"finished after SIGTERM"}));
        r.hold = hold;
        r.hold_after = 1;
        return r;
    });
    child_process proxy({binary}, {"UPSTREAM_URL=" + up.url(), "ADDR=127.0.0.1:0"});
    int port = proxy.port();
    REQUIRE(port > 0);
    mock::stream_result result;
    std::thread client([&] { result = mock::post_stream(port, "/v1/messages", mock::messages_body(true)); });
    REQUIRE(hold->wait_for_waiters(1));
    proxy.signal(SIGTERM);
    REQUIRE(proxy.wait_for("received SIGTERM"));
    hold->open();
    client.join();
    auto names = mock::event_names(result.events);
    INFO(proxy.output());
    INFO(result.raw);
    REQUIRE_FALSE(names.empty());
    CHECK(names.back() == "message_stop");
    CHECK(proxy.wait() == 0);
}

TEST_CASE("binary: --help, --version, and start-up errors in one line", "[server][binary]") {
    {
        child_process help({binary, "--help"}, {});
        CHECK(help.wait() == 0);
        auto text = help.output();
        CHECK(text.find("Usage: claude-nvidia-proxy") != std::string::npos);
        CHECK(text.find("UPSTREAM_TIMEOUT_SECONDS") != std::string::npos);
    }
    {
        child_process version({binary, "--version"}, {});
        CHECK(version.wait() == 0);
        CHECK(version.output().find("claude-nvidia-proxy 0.") == 0);
    }
    {
        child_process bad({binary}, {"UPSTREAM_TIMEOUT_SECONDS=ten", "ADDR=127.0.0.1:0"});
        CHECK(bad.wait() == 2);
        auto text = bad.output();
        CHECK(text.find("UPSTREAM_TIMEOUT_SECONDS") != std::string::npos);
        CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    }
    {
        child_process missing({binary}, {"CONFIG_PATH=/nonexistent/config.json", "ADDR=127.0.0.1:0"});
        CHECK(missing.wait() == 2);
        CHECK(missing.output().find("/nonexistent/config.json") != std::string::npos);
    }
}

TEST_CASE("binary: warnings for no keys and for an open listener without SERVER_API_KEY", "[server][binary]") {
    mock::upstream up([](const mock::recorded& r, std::size_t) { return answer(r); });
    child_process proxy({binary}, {"UPSTREAM_URL=" + up.url(), "ADDR=0.0.0.0:0"});
    REQUIRE(proxy.port() > 0);
    auto text = proxy.output();
    CHECK(text.find("no upstream keys configured") != std::string::npos);
    CHECK(text.find("without SERVER_API_KEY") != std::string::npos);
    proxy.signal(SIGINT);
    CHECK(proxy.wait() == 0);
}

TEST_CASE("binary: a second instance on an address in use exits 2 with one line, and the first keeps the port",
          "[server][binary]") {
    child_process first({binary}, {"ADDR=127.0.0.1:0", "UPSTREAM_URL=http://127.0.0.1:9/v1/chat/completions"});
    const int port = first.port();
    REQUIRE(port > 0);
    child_process second({binary}, {"ADDR=127.0.0.1:" + std::to_string(port),
                                     "UPSTREAM_URL=http://127.0.0.1:9/v1/chat/completions"});
    CHECK(second.wait() == 2);  // never "listening on": no SO_REUSEPORT sharing
    const std::string text = second.output();
    CHECK(text.find("listening on") == std::string::npos);
    const auto error_at = text.find("claude-nvidia-proxy: configuration error: ADDR: cannot listen on 127.0.0.1:" +
                                    std::to_string(port) + ": Address already in use");
    REQUIRE(error_at != std::string::npos);
    CHECK(text.find('\n', error_at) == text.size() - 1);  // one line, the last
    first.signal(SIGTERM);
    CHECK(first.wait() == 0);
}

TEST_CASE("binary: an upstream URL with credentials is refused without printing them", "[server][binary]") {
    child_process bad({binary}, {"ADDR=127.0.0.1:0", "UPSTREAM_URL=https://user:hunter2-pass@example.invalid/v1/chat/completions"});
    CHECK(bad.wait() == 2);
    const std::string text = bad.output();
    CHECK(text.find("credentials") != std::string::npos);
    CHECK(text.find("hunter2") == std::string::npos);
    CHECK(text.find("https://***@example.invalid/v1/chat/completions") != std::string::npos);
}

namespace {

// A line of /proc/<pid>/status in KiB (VmRSS, VmHWM).
std::size_t status_kib(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field, 0) == 0) return std::stoul(line.substr(field.size()));
    }
    return 0;
}

}  // namespace

TEST_CASE("binary: body floods, a gzip body and a thousand slow sockets leave the proxy's memory bounded",
          "[server][binary][hardening]") {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
    const std::size_t slow_count = std::min<std::size_t>(1000, (static_cast<std::size_t>(lim.rlim_cur) - 256) / 2);
    REQUIRE(slow_count >= 300);

    mock::upstream up([](const mock::recorded& r, std::size_t) { return answer(r); });
    child_process proxy({binary}, {"UPSTREAM_URL=" + up.url(), "ADDR=127.0.0.1:0", "MAX_BODY_BYTES=4194304",
                                   "CLIENT_HEADER_TIMEOUT_SECONDS=600", "LOG_BODY_MAX_CHARS=0"});
    const int port = proxy.port();
    REQUIRE(port > 0);
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(mock::patience);
    REQUIRE(client.Get("/health")->status == 200);
    const std::size_t baseline_kib = status_kib(proxy.pid(), "VmRSS:");
    REQUIRE(baseline_kib > 0);

    // 1 MiB announced as gzip (inflating it could take gigabytes): refused unread.
    {
        mock::raw_client c(port);
        REQUIRE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 1048576\r\n\r\n"));
        bool closed = false;
        CHECK(c.read_until_closed(closed).rfind("HTTP/1.1 415", 0) == 0);
    }
    // 256 MiB of chunked body against a 4 MiB limit: refused once the limit is passed.
    {
        mock::raw_client c(port);
        REQUIRE(c.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
        std::thread sender([&c] {
            const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
            for (int i = 0; i < 4096 && c.send(chunk); ++i) {
            }
        });
        bool closed = false;
        std::string got = c.read_until_closed(closed);
        sender.join();
        CHECK(got.rfind("HTTP/1.1 413", 0) == 0);
    }
    // A thousand clients that never finish their heads.
    std::vector<std::unique_ptr<mock::raw_client>> slow;
    for (std::size_t i = 0; i < slow_count; ++i) {
        slow.push_back(std::make_unique<mock::raw_client>(port));
        REQUIRE(slow.back()->send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Le"));
    }
    auto health = client.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    auto served = client.Post("/v1/messages", mock::messages_body(false), "application/json");
    REQUIRE(served);
    CHECK(served->status == 200);

    const std::size_t peak_kib = status_kib(proxy.pid(), "VmHWM:");
    INFO("proxy RSS at start " << baseline_kib << " KiB, peak " << peak_kib << " KiB");
    CHECK(peak_kib < baseline_kib + 96 * 1024);
    CHECK(up.requests().size() == 1);
}

TEST_CASE("binary: MODEL_MAP is printed at start-up; a bad entry exits 2 naming it", "[server][binary]") {
    {
        child_process proxy({binary}, {"ADDR=127.0.0.1:0", "UPSTREAM_URL=http://127.0.0.1:9/v1/chat/completions",
                                       "MODEL_MAP=claude-sonnet-*=z-ai/glm5, claude-haiku-*=minimaxai/minimax-m2.1",
                                       "DEFAULT_MODEL=z-ai/glm5"});
        REQUIRE(proxy.port() > 0);
        CHECK(proxy.output().find("model mapping: claude-sonnet-* -> z-ai/glm5, claude-haiku-* -> minimaxai/minimax-m2.1 "
                                  "(from MODEL_MAP); other claude* names -> z-ai/glm5 (from DEFAULT_MODEL)") !=
              std::string::npos);
        proxy.signal(SIGINT);
        CHECK(proxy.wait() == 0);
    }
    {
        child_process bad({binary}, {"ADDR=127.0.0.1:0", "MODEL_MAP=claude-sonnet-*=z-ai/glm5,claude-haiku-*"});
        CHECK(bad.wait() == 2);
        const auto text = bad.output();
        CHECK(text.find("MODEL_MAP entry 2 'claude-haiku-*'") != std::string::npos);
        CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    }
}
