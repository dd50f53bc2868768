// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "msgbridge/detail/text.hpp"
#include "msgbridge/version.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

enum class content_kind { thinking, text };

// Splits assistant content of models that think inline ("<think>…</think>
// answer") into thinking and text, fed in arbitrary pieces. The same object
// serves the non-streaming converter (one piece, then finish), so both
// paths classify identically.
//
// Rules (docs/response-mapping.md, "Inline <think> tags"):
// - Content that starts (after optional whitespace) with `<think>` is
//   thinking up to `</think>`, streamed as it comes; no `</think>` by the
//   end means the thought was cut short, and all of it stays thinking.
// - Content that does not start with `<think>` may still be a thought whose
//   opening tag lived in the prompt template (DeepSeek-R1 style). It is held
//   back until `</think>` shows it was thinking, or until the content ends
//   and shows it was an ordinary answer. Holding back instead of guessing
//   matters: the same model answers without any tag when thinking is off.
// - Whitespace right after `</think>` is dropped; the rest is text.
class think_tag_splitter {
public:
    // Sink: void(content_kind, std::string_view), never called with "".
    template <class Sink>
    void feed(std::string_view piece, Sink&& sink);

    // The content ended (finish_reason, a tool call, or the end of input):
    // releases what is held, and passes any later content through as text.
    template <class Sink>
    void finish(Sink&& sink);

    // Reasoning arrives in its own field: the content is plain text.
    void disable() noexcept {
        if (state_ == state::start && held_.empty()) state_ = state::text;
    }

    [[nodiscard]] bool passthrough() const noexcept { return state_ == state::text; }

private:
    enum class state { start, implicit, thinking, after_close, text };

    static constexpr std::string_view open_tag = "<think>";
    static constexpr std::string_view close_tag = "</think>";

    template <class Sink>
    void emit(Sink& sink, content_kind kind, std::string_view text) {
        if (!text.empty()) sink(kind, text);
    }
    template <class Sink>
    void after_close(std::string_view rest, Sink& sink);
    bool match_open_tag(std::string_view& piece);
    template <class Sink>
    bool find_implicit_close(std::string_view& piece, Sink& sink);
    template <class Sink>
    bool stream_thinking(std::string_view& piece, Sink& sink);

    state state_ = state::start;
    std::string held_;
    std::size_t leading_space_ = 0;
};

template <class Sink>
void think_tag_splitter::feed(std::string_view piece, Sink&& sink) {
    // Each state consumes what it can of `piece`; a false return means it
    // took all of it (or holds the rest for the next piece).
    bool more = true;
    while (more && !piece.empty()) {
        switch (state_) {
            case state::text:
                emit(sink, content_kind::text, piece);
                return;
            case state::after_close:
                after_close(piece, sink);
                return;
            case state::start: more = match_open_tag(piece); break;
            case state::implicit: more = find_implicit_close(piece, sink); break;
            case state::thinking: more = stream_thinking(piece, sink); break;
        }
    }
}

inline bool think_tag_splitter::match_open_tag(std::string_view& piece) {
    // Match leading whitespace then "<think>" one byte at a time; held_ is
    // leading_space_ whitespace bytes plus a tag prefix.
    std::size_t i = 0;
    for (; i < piece.size(); ++i) {
        const char c = piece[i];
        const std::size_t matched = held_.size() - leading_space_;
        if (matched == 0 && is_json_space(c)) {
            held_.push_back(c);
            ++leading_space_;
            continue;
        }
        if (c != open_tag[matched]) {
            state_ = state::implicit;
            break;
        }
        held_.push_back(c);
        if (matched + 1 == open_tag.size()) {
            held_.clear();
            state_ = state::thinking;
            ++i;
            break;
        }
    }
    piece.remove_prefix(i);
    return true;
}

template <class Sink>
bool think_tag_splitter::find_implicit_close(std::string_view& piece, Sink& sink) {
    const std::size_t tag = append_and_find(held_, piece, close_tag);
    if (tag == std::string::npos) return false;
    emit(sink, content_kind::thinking, std::string_view(held_).substr(0, tag));
    // The rest is moved out before held_ is reused.
    std::string rest = held_.substr(tag + close_tag.size());
    held_.clear();
    state_ = state::after_close;
    after_close(rest, sink);
    return false;
}

template <class Sink>
bool think_tag_splitter::stream_thinking(std::string_view& piece, Sink& sink) {
    std::string_view view = piece;
    if (!held_.empty()) {
        // A partial "</think>" from the last piece: complete it byte by
        // byte; held_ is at most 7 bytes.
        std::size_t used = 0;
        while (used < piece.size() && held_.size() < close_tag.size() && piece[used] == close_tag[held_.size()]) {
            held_.push_back(piece[used++]);
        }
        if (held_.size() == close_tag.size()) {
            held_.clear();
            state_ = state::after_close;
            piece.remove_prefix(used);
            return true;
        }
        if (used == piece.size()) return false;  // still a prefix of the tag
        // Not the tag after all: the held bytes were thinking text.
        emit(sink, content_kind::thinking, held_);
        held_.clear();
        // Only the first byte of held_ is '<', so no tag can start inside
        // it: scanning resumes after the bytes it took.
        view = piece.substr(used);
    }
    const std::size_t tag = view.find(close_tag);
    if (tag != std::string_view::npos) {
        emit(sink, content_kind::thinking, view.substr(0, tag));
        state_ = state::after_close;
        piece = view.substr(tag + close_tag.size());
        return true;
    }
    // Hold back a suffix that could begin "</think>".
    std::size_t keep = 0;
    for (std::size_t k = std::min(view.size(), close_tag.size() - 1); k > 0; --k) {
        if (view.substr(view.size() - k) == close_tag.substr(0, k)) {
            keep = k;
            break;
        }
    }
    emit(sink, content_kind::thinking, view.substr(0, view.size() - keep));
    held_.assign(view.data() + view.size() - keep, keep);
    return false;
}

template <class Sink>
void think_tag_splitter::after_close(std::string_view rest, Sink& sink) {
    std::size_t i = 0;
    while (i < rest.size() && is_json_space(rest[i])) ++i;
    if (i == rest.size()) return;
    state_ = state::text;
    emit(sink, content_kind::text, rest.substr(i));
}

template <class Sink>
void think_tag_splitter::finish(Sink&& sink) {
    switch (state_) {
        case state::start:
        case state::implicit:
            // No "</think>": an ordinary answer (a lone, unfinished "<think"
            // prefix included).
            emit(sink, content_kind::text, held_);
            break;
        case state::thinking:
            emit(sink, content_kind::thinking, held_);
            break;
        case state::after_close:
        case state::text:
            break;
    }
    held_.clear();
    state_ = state::text;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
