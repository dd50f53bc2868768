// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

enum class sse_status {
    ok,         ///< every byte consumed
    stopped,    ///< the handler asked to stop; the rest of the input was ignored
    too_large,  ///< one event grew past the cap
};

// An incremental parser for the WHATWG "event stream" format
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
// The network can split the input anywhere, including between the \r and
// \n of one line ending, so the parser keeps a partial line and a "skip one
// \n" flag between calls. A line that is complete inside one piece is parsed
// in place; only partial lines and `data` values are copied, into buffers
// whose capacity is kept, so steady state does not allocate.
class sse_parser {
public:
    explicit sse_parser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

    // Calls `on_event(std::string_view event_type, std::string& data)` for
    // every dispatched event; `data` has its trailing \n removed and may be
    // modified (e.g. reserved for padding) by the handler. The handler
    // returns false to stop.
    template <class Handler>
    sse_status feed(std::string_view input, Handler&& on_event);

    // Bytes held for an event that has not been dispatched yet. At the end
    // of the stream such an event is discarded, as the spec says.
    [[nodiscard]] bool has_partial_event() const noexcept {
        return !line_.empty() || !data_.empty() || !event_.empty();
    }

private:
    template <class Handler>
    bool process_line(std::string_view line, Handler& on_event);
    template <class Handler>
    bool dispatch(Handler& on_event);
    [[nodiscard]] bool over_cap(std::size_t extra) const noexcept {
        return line_.size() + data_.size() + extra > max_event_bytes_;
    }

    std::size_t max_event_bytes_;
    std::string line_;   // a line split across pieces
    std::string data_;   // the data buffer of the event being built
    std::string event_;  // the event type buffer
    unsigned bom_matched_ = 0;
    bool bom_done_ = false;
    bool skip_lf_ = false;  // the previous piece ended with \r
};

template <class Handler>
sse_status sse_parser::feed(std::string_view input, Handler&& on_event) {
    const char* p = input.data();
    const char* const end = p + input.size();

    // A UTF-8 byte order mark is dropped from the start of the stream, even
    // when it arrives one byte at a time.
    static constexpr unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    while (!bom_done_ && p < end) {
        if (static_cast<unsigned char>(*p) == bom[bom_matched_]) {
            ++p;
            if (++bom_matched_ == 3) bom_done_ = true;
        } else {
            bom_done_ = true;
            // Bytes that looked like a BOM but were not: they start the first line.
            line_.append(reinterpret_cast<const char*>(bom), bom_matched_);
        }
    }

    // Next \r and \n at or after p, found with memchr once per piece each and
    // refreshed only when passed, so a piece is scanned in linear time.
    const char* next_cr = nullptr;
    const char* next_lf = nullptr;
    auto find = [end](const char* from, char c) {
        const void* hit = std::memchr(from, c, static_cast<std::size_t>(end - from));
        return hit ? static_cast<const char*>(hit) : end;
    };

    while (p < end) {
        if (skip_lf_) {
            skip_lf_ = false;
            if (*p == '\n') {
                ++p;
                continue;
            }
        }
        if (next_cr == nullptr || next_cr < p) next_cr = find(p, '\r');
        if (next_lf == nullptr || next_lf < p) next_lf = find(p, '\n');
        const char* stop = next_cr < next_lf ? next_cr : next_lf;
        const std::size_t length = static_cast<std::size_t>(stop - p);
        if (stop == end) {
            if (over_cap(length)) return sse_status::too_large;
            line_.append(p, length);
            return sse_status::ok;
        }
        bool keep_going;
        if (line_.empty()) {
            if (over_cap(length)) return sse_status::too_large;
            keep_going = process_line(std::string_view(p, length), on_event);
        } else {
            if (over_cap(length)) return sse_status::too_large;
            line_.append(p, length);
            keep_going = process_line(std::string_view(line_), on_event);
            line_.clear();
        }
        if (*stop == '\r') {
            if (stop + 1 < end) {
                p = stop + (stop[1] == '\n' ? 2 : 1);
            } else {
                p = stop + 1;
                skip_lf_ = true;
            }
        } else {
            p = stop + 1;
        }
        if (!keep_going) return sse_status::stopped;
        if (data_.size() > max_event_bytes_) return sse_status::too_large;
    }
    return sse_status::ok;
}

template <class Handler>
bool sse_parser::process_line(std::string_view line, Handler& on_event) {
    if (line.empty()) return dispatch(on_event);
    if (line.front() == ':') return true;  // comment, e.g. a keep-alive
    std::string_view field = line;
    std::string_view value;
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
        data_.append(value.data(), value.size());
        data_.push_back('\n');
    } else if (field == "event") {
        event_.assign(value.data(), value.size());
    }
    // `id` and `retry` only matter for reconnecting, which a proxy never
    // does mid-answer; other field names are ignored, as the spec says.
    return true;
}

template <class Handler>
bool sse_parser::dispatch(Handler& on_event) {
    if (data_.empty()) {
        event_.clear();
        return true;
    }
    data_.pop_back();  // the \n after the last data line
    const bool keep_going =
        on_event(event_.empty() ? std::string_view("message") : std::string_view(event_), data_);
    data_.clear();
    event_.clear();
    return keep_going;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
