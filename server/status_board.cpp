// SPDX-License-Identifier: MIT
#include "status_board.hpp"

#include "log.hpp"

namespace proxy {

void status_board::observe_exchange(const exchange_summary& summary, std::chrono::system_clock::time_point ended) {
    finished_exchange e;
    e.request_id = std::string(summary.request_id);
    e.client_model = std::string(summary.client_model);
    e.upstream_model = std::string(summary.upstream_model);
    e.stream = summary.stream;
    e.status = summary.status;
    e.ended = ended;
    e.took = summary.finished - summary.started;
    e.tokens_in = summary.tokens_in;
    e.tokens_out = summary.tokens_out;
    if (summary.warnings) {
        for (const auto& warning : *summary.warnings) {
            if (!e.notes.empty()) e.notes += "; ";
            e.notes += warning;
        }
        if (e.notes.size() > max_notes_chars) {
            e.notes.resize(utf8_cut(e.notes, max_notes_chars - 3));
            e.notes += "...";
        }
    }

    std::lock_guard<std::mutex> lock(mutex_);
    auto found = models_.find(summary.upstream_model);
    if (found == models_.end()) {
        const std::string name = models_.size() < max_models ? e.upstream_model : std::string(other_models);
        found = models_.try_emplace(name).first;
        found->second.model = name;
    }
    model_totals& totals = found->second;
    ++totals.requests;
    if (summary.status >= 400) ++totals.failed;
    totals.tokens_in += summary.tokens_in;
    totals.tokens_out += summary.tokens_out;
    totals.tokens_cache_read += summary.tokens_cache_read;

    if (recent_.size() == recent_capacity) recent_.pop_front();
    recent_.push_back(std::move(e));
}

std::vector<status_board::finished_exchange> status_board::recent() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {recent_.rbegin(), recent_.rend()};
}

std::vector<status_board::model_totals> status_board::models() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<model_totals> out;
    out.reserve(models_.size());
    for (const auto& [name, totals] : models_) out.push_back(totals);
    return out;
}

}  // namespace proxy
