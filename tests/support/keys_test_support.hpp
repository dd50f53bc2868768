// Helpers for the keys_* suites. Every full key a test makes comes from
// here and carries the marker "S3CR3T" outside its redacted parts, so the
// "no test output contains a full key" check can grep for the marker.
#pragma once

#include <msgbridge/keys.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keys_test {

// "nvapi-S3CR3T-<filler>-k007": 40 bytes, redacts to "nvapi-…k007".
inline std::string test_key(std::size_t i) {
    std::string tail = std::to_string(i % 1000);
    tail.insert(0, 3 - tail.size(), '0');
    std::string key = "nvapi-S3CR3T-";
    while (key.size() < 35) key.push_back(static_cast<char>('a' + (key.size() + i) % 26));
    return key + "-k" + tail;
}

inline std::vector<std::string> test_keys(std::size_t count) {
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < count; ++i) keys.push_back(test_key(i));
    return keys;
}

// A secret of exactly `length` bytes: `prefix`, the marker where it fits,
// filler, then `tail`.
inline std::string secret(std::string_view prefix, std::size_t length, std::string_view tail) {
    std::string key(prefix);
    if (key.size() + 6 + tail.size() <= length) key += "S3CR3T";
    while (key.size() + tail.size() < length) key.push_back('x');
    key += tail;
    return key.substr(0, length);
}

// Compares keys without the values ever reaching Catch's expression printer.
inline bool same_secret(std::string_view a, std::string_view b) { return a == b; }

inline bool contains_marker(std::string_view text) { return text.find("S3CR3T") != std::string_view::npos; }

// A monotonic clock the test moves by hand; atomic so pool threads may read it.
class fake_clock {
public:
    std::chrono::steady_clock::time_point now() const {
        return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ticks_.load()));
    }
    void advance(std::chrono::nanoseconds by) { ticks_.fetch_add(by.count()); }
    auto source() {
        return [this] { return now(); };
    }

private:
    // Far from zero, so "cooling_until = {}" (the epoch) is clearly in the past.
    std::atomic<std::int64_t> ticks_{std::int64_t{1'000'000} * 1'000'000'000};
};

// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
inline std::chrono::system_clock::time_point rfc_example_time() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(784111777));
}

inline msgbridge::key_pool_options fake_time_options(fake_clock& clock, msgbridge::rotation strategy) {
    msgbridge::key_pool_options options;
    options.strategy = strategy;
    options.clock = clock.source();
    options.wall_clock = [] { return rfc_example_time(); };
    options.seed = 42;
    return options;
}

}  // namespace keys_test
