// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <random>
#include <string>
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

// A fresh seed per converter object. Called once per stream or response,
// never per chunk.
[[nodiscard]] inline std::uint64_t fresh_id_seed() {
    std::random_device device;
    const std::uint64_t high = device();
    return (high << 32) ^ device();
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
