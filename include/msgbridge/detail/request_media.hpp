// SPDX-License-Identifier: MIT
#pragma once

// Image and document blocks: OpenAI image_url and file parts where the
// profile takes them, text or a placeholder where it does not.

#include <cstdint>
#include <string_view>

#include "msgbridge/detail/request_converter.hpp"
#include "msgbridge/request.hpp"

MSGBRIDGE_BEGIN_NAMESPACE
namespace detail {

inline constexpr std::string_view no_vision_placeholder = "[image omitted: this model cannot see images]";
inline constexpr std::string_view file_id_image_placeholder =
    "[image omitted: an Anthropic file id cannot be sent upstream]";
inline constexpr std::string_view file_id_warning = ": file ids cannot be sent upstream; replaced by a placeholder";

inline bool request_engine::source_present(const block_fields& block) {
    if (block.source_not_object) return fail("source", "must be an object");
    if (!block.has_source) return fail("source", "required");
    return true;
}

inline bool request_engine::base64_source_complete(const block_fields& block) {
    if (block.media_type.data() == nullptr) return fail("media_type", "required");
    if (block.source_data.data() == nullptr || block.source_data.empty()) return fail("data", "required");
    return true;
}

// `data:<media_type>;base64,<data>`, as pieces of the pending message.
inline void request_engine::add_data_url(const block_fields& block) {
    pending_.pieces.push_back({"data:", piece_kind::plain});
    pending_.pieces.push_back({block.media_type, piece_kind::escaped});
    pending_.pieces.push_back({";base64,", piece_kind::plain});
    pending_.pieces.push_back({block.source_data, piece_kind::escaped});
}

// An image becomes an image_url part, or a placeholder in the tool message
// being read (`into_tool_text`) or the turn's text.
inline bool request_engine::image_part(const block_fields& block, bool into_tool_text) {
    if (!source_present(block)) return false;
    auto guard = push("source");
    const std::string_view type = block.source_type;
    if (type.data() == nullptr) return fail("type", "required");
    const bool base64 = type == "base64";
    if (base64) {
        if (!base64_source_complete(block)) return false;
    } else if (type == "url") {
        if (block.url.data() == nullptr || block.url.empty()) return fail("url", "required");
    } else if (type == "file") {
        if (block.file_id.data() == nullptr) return fail("file_id", "required");
    } else {
        return fail("type", R"(must be one of "base64", "url", "file")");
    }
    ++estimate_.media_items;
    std::string_view placeholder;
    if (!profile_->vision) {
        ++left_out_.images_replaced;
        placeholder = no_vision_placeholder;
    } else if (type == "file") {
        warn(path_string({}) + std::string(file_id_warning));
        placeholder = file_id_image_placeholder;
    }
    if (!placeholder.empty()) {
        if (into_tool_text) {
            add_tool_text(placeholder, piece_kind::plain);
        } else {
            add_plain_part(placeholder);
        }
        return true;
    }
    const auto first = static_cast<std::uint32_t>(pending_.pieces.size());
    if (base64) {
        add_data_url(block);
    } else {
        pending_.pieces.push_back({block.url, piece_kind::escaped});
    }
    pending_.parts.push_back(
        {part_kind::image_url, first, static_cast<std::uint32_t>(pending_.pieces.size() - first), 0, 0});
    return true;
}

inline bool request_engine::document_part(const block_fields& block) {
    if (!source_present(block)) return false;
    auto guard = push("source");
    const std::string_view type = block.source_type;
    if (type.data() == nullptr) return fail("type", "required");
    const auto first = static_cast<std::uint32_t>(pending_.pieces.size());
    auto title_prefix = [&] {
        if (block.title.data() != nullptr && !block.title.empty()) {
            pending_.pieces.push_back({block.title, piece_kind::escaped});
            pending_.pieces.push_back({paragraph, piece_kind::plain});
        }
    };
    auto close_text_part = [&] {
        pending_.parts.push_back(
            {part_kind::text, first, static_cast<std::uint32_t>(pending_.pieces.size() - first), 0, 0});
    };
    if (type == "text") {
        if (block.source_data.data() == nullptr) return fail("data", "required");
        title_prefix();
        pending_.pieces.push_back({block.source_data, piece_kind::escaped});
        estimate_.text_bytes += block.source_data.size();
        close_text_part();
    } else if (type == "content") {
        title_prefix();
        pending_.pieces.insert(pending_.pieces.end(), pending_.tool_pieces.begin(), pending_.tool_pieces.end());
        close_text_part();
    } else if (type == "base64") {
        return document_file_part(block, first);
    } else if (type == "url") {
        if (block.url.data() == nullptr || block.url.empty()) return fail("url", "required");
        warn(path_string({}) + ": the upstream cannot fetch documents; sent as a link in the text");
        pending_.pieces.push_back({"[document: ", piece_kind::plain});
        pending_.pieces.push_back({block.url, piece_kind::escaped});
        pending_.pieces.push_back({"]", piece_kind::plain});
        close_text_part();
    } else if (type == "file") {
        warn(path_string({}) + std::string(file_id_warning));
        add_plain_part("[document omitted: an Anthropic file id cannot be sent upstream]");
    } else {
        return fail("type", R"(must be one of "base64", "text", "content", "url", "file")");
    }
    return true;
}

// A base64 PDF: an OpenAI file part named by the document's title, where the
// profile takes file parts.
inline bool request_engine::document_file_part(const block_fields& block, std::uint32_t first) {
    if (!base64_source_complete(block)) return false;
    ++estimate_.media_items;
    if (!profile_->file_parts) {
        warn(path_string({}) + ": this model takes no file parts; the document was replaced by a placeholder");
        add_plain_part("[document omitted: this model cannot read PDF files]");
        return true;
    }
    add_data_url(block);
    const auto name_first = static_cast<std::uint32_t>(pending_.pieces.size());
    if (block.title.data() != nullptr && !block.title.empty()) {
        pending_.pieces.push_back({block.title, piece_kind::escaped});
    } else {
        pending_.pieces.push_back({"document.pdf", piece_kind::plain});
    }
    pending_.parts.push_back({part_kind::file, first, name_first - first, name_first, 1});
    return true;
}

}  // namespace detail
MSGBRIDGE_END_NAMESPACE
