// Test and benchmark helper: counts heap allocations, so a test can prove a
// converter does not allocate per chunk and a benchmark can print how often
// each contender does.
//
// This header DEFINES the global operator new/delete (replacements may not
// be inline): include it in exactly one translation unit per executable,
// and know that it then counts every allocation of the whole binary. It only
// counts; allocation itself is plain malloc/free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace msgbridge_test {

namespace allocation_counter_detail {
inline std::atomic<std::size_t> count{0};
}

/// Allocations made through any operator new since the program started;
/// compare two readings to count a stretch of code.
inline std::size_t allocations_so_far() noexcept {
    return allocation_counter_detail::count.load(std::memory_order_relaxed);
}

}  // namespace msgbridge_test

void* operator new(std::size_t size) {
    msgbridge_test::allocation_counter_detail::count.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// simdjson allocates with new (std::nothrow): these must pair with the frees above.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    msgbridge_test::allocation_counter_detail::count.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
