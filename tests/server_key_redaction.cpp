// Keys of every shape through every place a key could surface: the one rule
// (msgbridge::redact_key), the pool's ids and stats, the server's log lines,
// its error answers, /health and the binary's start-up line. Nothing may show
// a key, nor 6 bytes in a row of it past its public prefix (docs/keys.md#redaction).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <msgbridge/keys.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/mock_upstream.hpp"

namespace {

struct key_shape {
    std::string name;  // what a failure names: never the key itself
    std::string key;
};

// Letters and digits drawn from a fixed sequence: no key spells a word the
// logs use, and every run sees the same keys.
std::string filler(std::size_t length, std::uint64_t seed) {
    static constexpr char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";
    std::string out;
    for (std::uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1; out.size() < length;) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_back(alphabet[state % (sizeof alphabet - 1)]);
    }
    return out;
}

// `length` bytes with the suite's leak marker in the middle, so that the
// --success run (tests/CMakeLists.txt) fails if any assertion prints the key.
std::string marked(std::size_t length, std::uint64_t seed) {
    std::string key = filler(length, seed);
    return key.replace(length / 2 - 3, 6, "S3CR3T");
}

std::vector<key_shape> key_shapes() {
    return {
        {"one byte", "k"},
        {"8 bytes", filler(8, 1)},
        {"12 bytes with a dash", "abcd-efghijk"},
        {"16 bytes", marked(16, 2)},
        {"40 bytes without a dash", marked(40, 3)},
        {"64 bytes", marked(64, 4)},
        {"short sk-", "sk-" + filler(20, 5)},
        {"sk- and 48", "sk-" + marked(48, 6)},
        {"nvapi- and 64", "nvapi-" + marked(64, 7)},
        {"inner spaces", filler(12, 8) + " S3CR3T " + filler(24, 9)},
        {"UTF-8", "cl\xC3\xA9-secr\xC3\xA8te-\xCE\xBB-\xE5\xAF\x86\xE9\x92\xA5-" + marked(24, 11)},
    };
}

std::vector<std::string> keys_of(const std::vector<key_shape>& shapes) {
    std::vector<std::string> keys;
    for (const auto& s : shapes) keys.push_back(s.key);
    return keys;
}

// True when `text` holds 6 bytes in a row of `key` beyond its public prefix.
// A key shorter than that cannot be told from ordinary text ("k" is in
// "key"); its ids are compared exactly instead.
bool reveals(std::string_view text, std::string_view key) {
    constexpr std::size_t window = 6;
    for (std::string_view prefix : {"nvapi-", "sk-"}) {
        if (key.substr(0, prefix.size()) == prefix) key.remove_prefix(prefix.size());
    }
    for (std::size_t at = 0; at + window <= key.size(); ++at) {
        if (text.find(key.substr(at, window)) != std::string_view::npos) return true;
    }
    return false;
}

// "where: which shape" for every shape `text` reveals; names only, so a
// failing check prints no key.
class leak_report {
public:
    explicit leak_report(const std::vector<key_shape>& shapes) : shapes_(shapes) {}
    void scan(const std::string& where, std::string_view text) {
        for (const auto& s : shapes_) {
            if (reveals(text, s.key)) leaks_.push_back(where + ": " + s.name);
        }
    }
    const std::vector<std::string>& leaks() const { return leaks_; }

private:
    const std::vector<key_shape>& shapes_;
    std::vector<std::string> leaks_;
};

const std::vector<std::string> none;

std::string bearer_key(const mock::recorded& r) {
    return r.authorization.rfind("Bearer ", 0) == 0 ? r.authorization.substr(7) : std::string();
}

}  // namespace

TEST_CASE("redaction: every key shape gives nothing away through redact_key and the pool", "[server][keys][redact]") {
    const auto shapes = key_shapes();
    leak_report report(shapes);
    msgbridge::key_pool pool(keys_of(shapes));
    REQUIRE(pool.size() == shapes.size());

    std::set<std::string> ids;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        report.scan("redact_key " + shapes[i].name, msgbridge::redact_key(shapes[i].key));
        report.scan("pool id " + shapes[i].name, pool.redacted_id(i));
        CHECK(pool.redacted_id(i) == msgbridge::redact_key(shapes[i].key, i));
        ids.emplace(pool.redacted_id(i));
    }
    CHECK(ids.size() == shapes.size());

    // A lease's id is the pool's; take every key once to see each of them.
    msgbridge::key_set tried;
    for (std::size_t n = 0; n < shapes.size(); ++n) {
        auto got = pool.acquire(tried);
        REQUIRE(got.status == msgbridge::acquire_status::leased);
        tried.insert(got.lease.index());
        CHECK(got.lease.redacted_id() == pool.redacted_id(got.lease.index()));
        (void)got.lease.report(msgbridge::key_outcome::auth_failed);
    }
    const auto stats = pool.stats();
    for (const auto& k : stats) CHECK(k.redacted_id == pool.redacted_id(k.index));
    report.scan("to_json(stats)", msgbridge::to_json(stats));
    CHECK(report.leaks() == none);
}

namespace {

// What the server said while every key was rejected, then once more after every key had been tried.
struct rejection_texts {
    std::vector<std::string> rejected_answers;  // the client's answers while keys were still being tried
    std::size_t upstream_calls = 0;
    int after_all_status = 0;
    std::string after_all_answer;
    int after_all_stream_status = 0;
    std::string after_all_stream;
    std::string health;
    std::vector<std::string> log;
};

rejection_texts reject_every_key(const std::vector<key_shape>& shapes) {
    // The upstream rejects every key and quotes it back, as some do.
    mock::upstream up([](const mock::recorded& r, std::size_t) {
        return mock::json(401, R"({"error":{"message":"invalid API key: )" + bearer_key(r) + R"("}})");
    });
    mock::running_proxy proxy(mock::test_config(up.url(), keys_of(shapes)));
    rejection_texts out;
    // At most five keys per request: a few requests try every key.
    for (std::size_t sent = 0; up.requests().size() < shapes.size() && sent < shapes.size(); ++sent) {
        auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json");
        out.rejected_answers.push_back(res ? res->body : std::string());
    }
    out.upstream_calls = up.requests().size();
    if (auto res = proxy.client().Post("/v1/messages", mock::messages_body(false), "application/json")) {
        out.after_all_status = res->status;
        out.after_all_answer = res->body;
    }
    auto stream = mock::post_stream(proxy.port(), "/v1/messages", mock::messages_body(true));
    out.after_all_stream_status = stream.status;
    out.after_all_stream = stream.raw;
    if (auto res = proxy.client().Get("/health")) out.health = res->body;
    out.log = proxy.log();
    return out;
}

}  // namespace

TEST_CASE("redaction: the server's log lines, its own errors and /health give no key away", "[server][keys][redact]") {
    const auto shapes = key_shapes();
    const rejection_texts said = reject_every_key(shapes);
    CHECK(said.upstream_calls >= shapes.size());  // five a request, every key at least once
    // Rejected alike, the keys stay in service: the upstream is asked again, and a 401 becomes a 502.
    CHECK(said.after_all_status == 502);
    CHECK(said.after_all_answer.find("of the proxy's upstream keys (401)") != std::string::npos);
    CHECK(said.after_all_stream_status == 502);

    leak_report report(shapes);
    report.scan("every key rejected again", said.after_all_answer);
    report.scan("every key rejected again, streaming", said.after_all_stream);
    report.scan("/health", said.health);
    for (const auto& line : said.log) report.scan("log", line);
    CHECK(report.leaks() == none);

    // Each key named to the client and on /health by its own id.
    std::string answers;
    for (const auto& answer : said.rejected_answers) answers += answer;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        const std::string id = msgbridge::redact_key(shapes[i].key, i);
        CHECK(answers.find(id) != std::string::npos);
        CHECK(said.health.find("\"id\":\"" + id + "\"") != std::string::npos);
    }
}

TEST_CASE("redaction: an upstream that quotes the rejected key does not pass it on to the client",
          "[server][keys][redact]") {
    const auto shapes = key_shapes();
    const rejection_texts said = reject_every_key(shapes);
    leak_report report(shapes);
    for (const auto& answer : said.rejected_answers) report.scan("401 answer", answer);
    CHECK(report.leaks() == none);
}

TEST_CASE("redaction: the binary's start-up line names the keys by their ids", "[server][keys][redact]") {
    const auto shapes = key_shapes();
    const std::string config_path = "/tmp/msgbridge-redaction-" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream file(config_path);
        file << R"({"addr":"127.0.0.1:0","nvidia_url":"http://127.0.0.1:9/v1/chat/completions","nvidia_keys":[)";
        for (std::size_t i = 0; i < shapes.size(); ++i) file << (i == 0 ? "\"" : ",\"") << shapes[i].key << '"';
        file << "]}";
    }
    // SIGTERM after a second: the proxy has logged its start-up lines by then and shuts down cleanly.
    const std::string command = "env -i PATH=/usr/bin:/bin timeout -s TERM 1 " +
                                std::string(CLAUDE_NVIDIA_PROXY_BINARY) + " --config " + config_path + " 2>&1";
    std::string output;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
        ::pclose(pipe);
    }
    std::remove(config_path.c_str());

    std::string ids;
    for (std::size_t i = 0; i < shapes.size(); ++i) ids += (i == 0 ? "" : ",") + msgbridge::redact_key(shapes[i].key, i);
    CHECK(output.find("upstream keys: " + std::to_string(shapes.size()) + " from nvidia_keys [" + ids + "]") !=
          std::string::npos);
    leak_report report(shapes);
    report.scan("start-up log", output);
    CHECK(report.leaks() == none);
}
