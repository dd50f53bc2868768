// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <string_view>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

// Anthropic ids look like `msg_01XFDUDYJgAACzvnptvVoYEL`: a prefix and 24
// base62 characters. Clients only require the prefix and uniqueness, so a
// per-object splitmix64 is enough; there is deliberately no shared generator
// (no global state, no locking), each converter seeds its own.
class id_generator {
public:
    explicit id_generator(std::uint64_t seed) noexcept : state_(seed) {}

    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    void append_id(std::string& out, std::string_view prefix) {
        static constexpr char alphabet[] =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        out += prefix;
        // 24 characters from 144 random bits (two draws of 12 chars, 6 bits each
        // reduced mod 62; the slight bias is irrelevant for an identifier).
        for (int half = 0; half < 2; ++half) {
            std::uint64_t bits = next();
            for (int i = 0; i < 12; ++i) {
                out.push_back(alphabet[(bits & 0x3F) % 62]);
                bits >>= 5;
            }
        }
    }

    [[nodiscard]] std::string make(std::string_view prefix) {
        std::string id;
        id.reserve(prefix.size() + 24);
        append_id(id, prefix);
        return id;
    }

private:
    std::uint64_t state_;
};

// A fresh seed per converter object, called once per stream or response.
// Ids need to be unique, not secret, so the seed mixes the clock's
// nanoseconds, the thread and a stack address (ASLR) instead of opening
// std::random_device: that cost 36 µs per response on a VM, 8% of the
// proxy's CPU (benchmarks/proxy_overhead, docs/performance.md).
[[nodiscard]] inline std::uint64_t fresh_id_seed() noexcept {
    const int stack_marker = 0;
    const auto wall = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    const auto tick = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    const auto thread = static_cast<std::uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    id_generator mixer(wall ^ (tick << 21) ^ (thread << 7) ^ reinterpret_cast<std::uintptr_t>(&stack_marker));
    const std::uint64_t seed = mixer.next();
    return seed != 0 ? seed : 1;  // 0 means "not given" in the options
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
