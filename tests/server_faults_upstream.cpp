// Upstream faults: whatever the upstream does, the client gets an
// Anthropic-shaped error (a status + {"type":"error",…}, or a legal event
// sequence ending with an `error` event) and the proxy serves the next
// request. Timeouts are configured short (1–2 s) so every case ends in
// seconds; nothing asserts a duration.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "support/anthropic_stream_accumulator.hpp"
#include "support/mock_upstream.hpp"

namespace {

// Requests whose text says "healthy" get a normal answer from every fault upstream below.
const std::string healthy = "healthy";

proxy::config fault_config(const std::string& url) {
    auto cfg = mock::test_config(url, {"nvapi-faults-test-key-0000000001"});
    cfg.connect_timeout_seconds = 1;
    cfg.upstream_timeout_seconds = 2;
    cfg.stream_idle_timeout_seconds = 2;
    cfg.ping_interval_seconds = 1;
    return cfg;
}

std::string sse_body(const std::vector<std::string>& chunks) {
    std::string all;
    for (const auto& c : chunks) all += c;
    return all;
}

// A whole, correct answer written by hand (Connection: close, so every request is a new connection).
void answer_normally(int fd, bool stream) {
    std::string body = stream ? sse_body(mock::text_stream({"all ", "good"})) : mock::completion("all good");
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: " +
                       std::string(stream ? "text/event-stream" : "application/json") +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    mock::raw_upstream::send_all(fd, head + body);
}

bool is_stream_request(const std::string& raw) { return raw.find(R"("stream":true)") != std::string::npos; }

std::string chunked(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return std::string(size) + std::string(data) + "\r\n";
}

// The raw upstream's script: "healthy" requests are answered, the rest get `fault`.
mock::raw_upstream::script with_fault(std::function<void(mock::raw_upstream&, int, bool stream)> fault) {
    return [fault](mock::raw_upstream& self, int fd) {
        std::string req;
        if (!mock::raw_upstream::read_request(fd, &req)) return;
        if (req.find(healthy) != std::string::npos) return answer_normally(fd, is_stream_request(req));
        fault(self, fd, is_stream_request(req));
    };
}

void check_error_json(const httplib::Result& res, int status, const std::string& type) {
    REQUIRE(res);
    CHECK(res->status == status);
    CHECK(res->get_header_value("Content-Type").find("application/json") != std::string::npos);
    INFO(res->body);
    CHECK(res->body.rfind(R"({"type":"error","error":{"type":")" + type + "\"", 0) == 0);
}

void check_error_stream(const mock::stream_result& r, const std::string& type = "api_error") {
    CHECK(r.status == 200);
    auto acc = msgbridge_test::accumulate_anthropic_stream(r.raw);
    INFO(r.raw.substr(0, 2000));
    INFO(acc.violation);
    CHECK(acc.violation.empty());
    CHECK(acc.errored);
    CHECK(acc.error_type == type);
    CHECK(acc.error_message.find("nvapi-faults") == std::string::npos);
}

// The same proxy answers a normal request, streamed and not, right after a fault.
void check_still_serves(mock::running_proxy& proxy) {
    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false, "z-ai/glm4.7", 256, healthy),
                                   "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("all good") != std::string::npos);
    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true, "z-ai/glm4.7", 256, healthy));
    CHECK(streamed.status == 200);
    auto acc = msgbridge_test::accumulate_anthropic_stream(streamed.raw);
    CHECK(acc.violation.empty());
    CHECK(acc.complete);
    CHECK(acc.message_json.find("all good") != std::string::npos);
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        if (n == 2 && c < 0xC2) return false;
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

}  // namespace

TEST_CASE("faults: the upstream refuses connections", "[server][faults]") {
    // Bound but not listening: connections are refused until start_listening().
    mock::raw_upstream up(with_fault([](mock::raw_upstream&, int, bool) {}), false);
    mock::running_proxy proxy(fault_config(up.url()));

    auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
    check_error_json(res, 502, "api_error");
    CHECK(res->body.find("unreachable") != std::string::npos);

    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    CHECK(streamed.status == 502);
    CHECK(streamed.raw.rfind(R"({"type":"error","error":{"type":"api_error")", 0) == 0);
    CHECK(up.connections() == 0);

    up.start_listening();
    check_still_serves(proxy);
}

TEST_CASE("faults: the upstream accepts and never answers", "[server][faults]") {
    mock::raw_upstream up(with_fault([](mock::raw_upstream& self, int fd, bool) { self.wait_peer_close(fd); }));
    mock::running_proxy proxy(fault_config(up.url()));

    SECTION("non-streaming: 504 after UPSTREAM_TIMEOUT_SECONDS, the upstream connection closed") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        check_error_json(res, 504, "api_error");
        CHECK(up.wait_closed_by_peer(1));
    }
    SECTION("streaming: nothing was sent yet, so a plain 504 after the idle timeout") {
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        CHECK(streamed.status == 504);
        CHECK(streamed.raw.rfind(R"({"type":"error","error":{"type":"api_error")", 0) == 0);
        CHECK(up.wait_closed_by_peer(1));
    }
    check_still_serves(proxy);
}

TEST_CASE("faults: the upstream answers headers, then stalls", "[server][faults]") {
    mock::raw_upstream up(with_fault([](mock::raw_upstream& self, int fd, bool stream) {
        if (stream) {
            std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            // A text block is open when the upstream goes quiet.
            std::string events = mock::chunk(R"({"role":"assistant","content":""})") + mock::chunk(R"({"content":"half a sen"})");
            mock::raw_upstream::send_all(fd, head + chunked(events));
        } else {
            mock::raw_upstream::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"id\":\"chat");
        }
        self.wait_peer_close(fd);
    }));
    mock::running_proxy proxy(fault_config(up.url()));

    SECTION("streaming: the open block is closed, then an error event") {
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        check_error_stream(streamed);
        auto names = mock::event_names(streamed.events);
        CHECK(std::find(names.begin(), names.end(), "content_block_stop") != names.end());
        CHECK(streamed.raw.find("STREAM_IDLE_TIMEOUT_SECONDS") != std::string::npos);
        CHECK(up.wait_closed_by_peer(1));
        CHECK(proxy.wait_for_log("end=idle-timeout"));
    }
    SECTION("non-streaming: 504 api_error") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        check_error_json(res, 504, "api_error");
        CHECK(res->body.find("UPSTREAM_TIMEOUT_SECONDS") != std::string::npos);
        CHECK(up.wait_closed_by_peer(1));
    }
    check_still_serves(proxy);
}

TEST_CASE("faults: the upstream closes mid-chunk or mid-JSON", "[server][faults]") {
    mock::raw_upstream up(with_fault([](mock::raw_upstream&, int fd, bool stream) {
        if (stream) {
            std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            std::string first = mock::chunk(R"({"role":"assistant","content":""})") + mock::chunk(R"({"content":"before the cut"})");
            std::string cut = mock::chunk(R"({"content":"never finished"})");
            // The chunk header promises the whole event; half of it arrives, then the connection closes.
            char size[32];
            std::snprintf(size, sizeof size, "%zx\r\n", cut.size());
            mock::raw_upstream::send_all(fd, head + chunked(first) + size + cut.substr(0, cut.size() / 2));
        } else {
            std::string body = mock::completion("never finished");
            mock::raw_upstream::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                                 std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2));
        }
        ::shutdown(fd, SHUT_RDWR);
    }));
    mock::running_proxy proxy(fault_config(up.url()));

    SECTION("streaming: the text so far, then an error event") {
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        check_error_stream(streamed);
        CHECK(streamed.raw.find("before the cut") != std::string::npos);
        CHECK(streamed.raw.find("never finished") == std::string::npos);
    }
    SECTION("non-streaming: 502 api_error, no half answer") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        check_error_json(res, 502, "api_error");
        CHECK(res->body.find("never finished") == std::string::npos);
    }
    check_still_serves(proxy);
}

TEST_CASE("faults: the upstream sends 10 MB in one piece", "[server][faults]") {
    const std::string big(10u << 20, 'x');
    mock::upstream up([&big](const mock::recorded& r, std::size_t) {
        if (r.body.find(healthy) != std::string::npos) {
            bool stream = r.body.find(R"("stream":true)") != std::string::npos;
            return stream ? mock::sse(mock::text_stream({"all ", "good"})) : mock::json(200, mock::completion("all good"));
        }
        if (r.body.find(R"("stream":true)") != std::string::npos) {
            std::vector<std::string> chunks = {mock::chunk(R"({"role":"assistant","content":""})"),
                                               mock::chunk(R"({"content":")" + big + R"("})"),
                                               mock::chunk("{}", R"("stop")"), mock::usage_chunk(), "data: [DONE]\n\n"};
            return mock::sse(std::move(chunks));
        }
        return mock::json(200, mock::completion(big));
    });
    auto cfg = fault_config(up.url());
    cfg.upstream_timeout_seconds = 60;  // 10 MB under a sanitizer on a busy machine: the timeout is not what is tested
    mock::running_proxy proxy(cfg);

    SECTION("one SSE event of 10 MB: converted whole") {
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        CHECK(streamed.status == 200);
        auto acc = msgbridge_test::accumulate_anthropic_stream(streamed.raw);
        CHECK(acc.violation.empty());
        REQUIRE(acc.complete);
        CHECK(acc.message_json.find(big) != std::string::npos);
    }
    SECTION("a non-streaming body of 10 MB: converted whole") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(res->status == 200);
        CHECK(res->body.find(big) != std::string::npos);
    }
    check_still_serves(proxy);
}

TEST_CASE("faults: invalid UTF-8 inside the upstream's JSON strings", "[server][faults]") {
    // A lone continuation byte, a truncated 3-byte sequence and an overlong form.
    const std::string bad = "ok \x80 \xE2\x82 \xC0\xAF end";
    mock::upstream up([&bad](const mock::recorded& r, std::size_t) {
        if (r.body.find(healthy) != std::string::npos) {
            bool stream = r.body.find(R"("stream":true)") != std::string::npos;
            return stream ? mock::sse(mock::text_stream({"all ", "good"})) : mock::json(200, mock::completion("all good"));
        }
        if (r.body.find(R"("stream":true)") != std::string::npos) return mock::sse(mock::text_stream({"before ", bad}));
        return mock::json(200, mock::completion(bad));
    });
    mock::running_proxy proxy(fault_config(up.url()));

    SECTION("streaming: a legal sequence, every byte sent is valid UTF-8") {
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        CHECK(streamed.status == 200);
        CHECK(valid_utf8(streamed.raw));
        auto acc = msgbridge_test::accumulate_anthropic_stream(streamed.raw);
        INFO(acc.violation);
        CHECK(acc.legal());
    }
    SECTION("non-streaming: valid UTF-8 out, an answer or an Anthropic error") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        REQUIRE(res);
        CHECK(valid_utf8(res->body));
        if (res->status == 200) {
            CHECK(res->body.find(R"("type":"message")") != std::string::npos);
        } else {
            CHECK(res->body.rfind(R"({"type":"error")", 0) == 0);
        }
    }
    check_still_serves(proxy);
}

TEST_CASE("faults: an endless upstream is cut by MAX_UPSTREAM_RESPONSE_BYTES", "[server][faults]") {
    // Bounded on our side too: the script stops once the proxy hangs up, or after this many writes.
    constexpr std::size_t max_writes = 1u << 16;
    const std::string piece(4096, 'y');
    mock::raw_upstream up(with_fault([&piece](mock::raw_upstream&, int fd, bool stream) {
        if (stream) {
            std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            if (!mock::raw_upstream::send_all(fd, head + chunked(mock::chunk(R"({"role":"assistant","content":""})")))) return;
            std::string event = mock::chunk(R"({"content":")" + piece + R"("})");
            for (std::size_t i = 0; i < max_writes; ++i) {
                if (!mock::raw_upstream::send_all(fd, chunked(event))) return;
            }
        } else {
            std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if (!mock::raw_upstream::send_all(fd, head + chunked(R"({"id":"chatcmpl-1","choices":[{"message":{"content":")"))) return;
            for (std::size_t i = 0; i < max_writes; ++i) {
                if (!mock::raw_upstream::send_all(fd, chunked(piece))) return;
            }
        }
    }));
    auto cfg = fault_config(up.url());
    cfg.max_upstream_response_bytes = 1u << 20;
    mock::running_proxy proxy(cfg);

    SECTION("streaming: the text so far, then an error event naming the limit") {
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        check_error_stream(streamed);
        CHECK(streamed.raw.find("MAX_UPSTREAM_RESPONSE_BYTES") != std::string::npos);
        CHECK(streamed.raw.size() < (4u << 20));
        CHECK(proxy.wait_for_log("end=too-large"));
    }
    SECTION("non-streaming: 502 api_error naming the limit") {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        check_error_json(res, 502, "api_error");
        CHECK(res->body.find("MAX_UPSTREAM_RESPONSE_BYTES") != std::string::npos);
    }
    check_still_serves(proxy);
}

TEST_CASE("faults: one SSE event that never ends is cut", "[server][faults]") {
    constexpr std::size_t max_writes = 1u << 16;
    const std::string piece(4096, 'z');
    mock::raw_upstream up(with_fault([&piece](mock::raw_upstream&, int fd, bool) {
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        if (!mock::raw_upstream::send_all(fd, head + chunked(R"(data: {"choices":[{"delta":{"content":")"))) return;
        for (std::size_t i = 0; i < max_writes; ++i) {
            if (!mock::raw_upstream::send_all(fd, chunked(piece))) return;
        }
    }));
    auto cfg = fault_config(up.url());
    cfg.max_upstream_response_bytes = 1u << 20;
    mock::running_proxy proxy(cfg);
    auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    check_error_stream(streamed);
    check_still_serves(proxy);
}

namespace {

// A self-signed certificate for 127.0.0.1 that no trust store knows.
struct untrusted_cert {
    std::string dir, cert, key;
    bool ok = false;
    untrusted_cert() {
        char tmpl[] = "/tmp/server_faults_tls_XXXXXX";
        if (mkdtemp(tmpl) == nullptr) return;
        dir = tmpl;
        cert = dir + "/self.crt";
        key = dir + "/self.key";
        ok = std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + key +
                          " -out " + cert + " -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
                          " >/dev/null 2>&1")
                             .c_str()) == 0;
    }
    ~untrusted_cert() {
        if (!dir.empty()) std::system(("rm -rf '" + dir + "'").c_str());
    }
};

// Under ASan on a loaded machine one handshake was seen to outlast the 2 s request
// deadline (a 504 instead of the TLS error): these cases get room, so what they
// observe is the TLS failure itself. Normally each ends in milliseconds.
proxy::config tls_fault_config(const std::string& url) {
    auto cfg = fault_config(url);
    cfg.connect_timeout_seconds = 10;
    cfg.upstream_timeout_seconds = 20;
    cfg.stream_idle_timeout_seconds = 20;
    return cfg;
}

void check_tls_failure(mock::running_proxy& proxy) {
    for (int i = 0; i < 2; ++i) {  // the second time too: nothing was left half-open
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        check_error_json(res, 502, "api_error");
        CHECK(res->body.find("TLS") != std::string::npos);
        CHECK(res->body.find("nvapi-faults") == std::string::npos);
        auto streamed = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
        CHECK(streamed.status == 502);
        CHECK(streamed.raw.rfind(R"({"type":"error","error":{"type":"api_error")", 0) == 0);
    }
    // The proxy itself still answers (its only upstream cannot work, so a local route).
    auto health = proxy.client().Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    auto counted = proxy.client().Post("/v1/messages/count_tokens", mock::messages_body(false), "application/json");
    REQUIRE(counted);
    CHECK(counted->status == 200);
}

}  // namespace

TEST_CASE("faults: TLS handshake failures", "[server][faults][tls]") {
    SECTION("a plain-HTTP server behind an https:// URL") {
        // It answers the ClientHello in plain HTTP at once. (A server that waits for a
        // request line the ClientHello never completes is the "never answers" case:
        // then the connect or the request timeout ends it, whichever comes first.)
        mock::raw_upstream up([](mock::raw_upstream& self, int fd) {
            mock::raw_upstream::send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            self.wait_peer_close(fd);
        });
        mock::running_proxy proxy(tls_fault_config(up.url("https")));
        check_tls_failure(proxy);
        CHECK(up.connections() >= 1);
    }
    SECTION("a TLS server whose certificate nobody trusts") {
        untrusted_cert pki;
        REQUIRE(pki.ok);
        mock::upstream up([](const mock::recorded&, std::size_t) { return mock::json(200, mock::completion("tls")); },
                          pki.cert, pki.key);
        mock::running_proxy proxy(tls_fault_config(up.url()));
        check_tls_failure(proxy);
        CHECK(up.requests().empty());
    }
}
