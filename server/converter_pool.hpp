// Converters lent to requests in flight.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace proxy {

/// The library's converters keep their parser and buffers from one body to
/// the next; building one per request (options copied, parser allocated)
/// cost more than the conversion itself. One is lent per request in flight.
/// `Converter` is msgbridge::request_converter or msgbridge::response_converter.
template <class Converter>
class converter_pool {
public:
    using options_type = std::decay_t<decltype(std::declval<const Converter&>().options())>;

    explicit converter_pool(options_type options) : options_(std::move(options)) {}

    /// Runs `use(Converter&)` with a converter nobody else holds.
    /// `body_bytes` decides whether the converter is kept afterwards: one that
    /// converted a huge body would keep its huge buffers, so it is dropped.
    template <class Use>
    auto with(std::size_t body_bytes, Use&& use) {
        std::unique_ptr<Converter> converter;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!idle_.empty()) {
                converter = std::move(idle_.back());
                idle_.pop_back();
            }
        }
        if (!converter) converter = std::make_unique<Converter>(options_);
        auto outcome = use(*converter);
        if (body_bytes <= max_kept_body_bytes) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (idle_.size() < max_idle) idle_.push_back(std::move(converter));
        }
        return outcome;
    }

private:
    static constexpr std::size_t max_idle = 64;
    static constexpr std::size_t max_kept_body_bytes = std::size_t{1} << 20;

    options_type options_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Converter>> idle_;
};

}  // namespace proxy
