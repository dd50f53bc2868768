// SPDX-License-Identifier: MIT
#include "upstream_models.hpp"

#include <utility>

#include <simdjson.h>

namespace proxy {
namespace {

// NVIDIA's list is about 200 KB; anything far larger is not a model list.
constexpr std::size_t max_list_bytes = 4u << 20;

constexpr std::string_view chat_suffix = "/chat/completions";

// OpenAI's shape: {"object":"list","data":[{"id":"z-ai/glm5","object":"model",…},…]}.
std::optional<std::vector<std::string>> parse_model_ids(const std::string& body, std::string& failure) {
    simdjson::dom::parser parser;
    simdjson::dom::array data;
    if (parser.parse(body).get_object()["data"].get_array().get(data)) {
        failure = "the answer has no \"data\" array";
        return std::nullopt;
    }
    std::vector<std::string> ids;
    for (auto model : data) {
        std::string_view id;
        if (!model["id"].get_string().get(id) && !id.empty()) ids.emplace_back(id);
    }
    return ids;
}

}  // namespace

std::string upstream_models_path(const std::string& upstream_url) {
    const auto scheme_end = upstream_url.find("://");
    const auto path_start = upstream_url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    if (path_start == std::string::npos) return {};
    std::string path = upstream_url.substr(path_start);
    if (path.size() < chat_suffix.size() || path.compare(path.size() - chat_suffix.size(), chat_suffix.size(), chat_suffix) != 0)
        return {};
    path.replace(path.size() - chat_suffix.size(), chat_suffix.size(), "/models");
    return path;
}

upstream_model_cache::upstream_model_cache(const upstream_target& target, std::string path, std::chrono::seconds ttl,
                                           std::chrono::seconds timeout)
    : target_(target), path_(std::move(path)), ttl_(ttl), timeout_(timeout) {}

std::vector<std::string> upstream_model_cache::ids() {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (path_.empty() || fetching_ || (fetched_at_ && now - *fetched_at_ < ttl_)) return ids_;
    fetching_ = true;
    lock.unlock();
    std::string failure;
    auto fetched = fetch(failure);
    lock.lock();
    fetching_ = false;
    fetched_at_ = now;
    if (fetched) {
        ids_ = std::move(*fetched);
        failing_ = false;
    } else if (!failing_) {
        failing_ = true;
        target_.log.line("upstream model list unavailable (GET " + path_ + " on " + target_.host + ": " + failure +
                         "); /v1/models lists the mapped models only, and tries again in " +
                         std::to_string(ttl_.count()) + " s",
                         log_level::warn);
    }
    return ids_;
}

std::optional<std::vector<std::string>> upstream_model_cache::fetch(std::string& failure) const {
    upstream_request request;
    request.method = "GET";
    request.path = path_;
    request.read_timeout = timeout_;
    request.total_timeout = timeout_;
    // A key is lent, not judged: a model list says nothing about its quota.
    msgbridge::key_lease lease;
    if (target_.keys != nullptr && !target_.keys->empty()) {
        auto got = target_.keys->acquire({});
        if (got.status == msgbridge::acquire_status::leased) lease = std::move(got.lease);
    }
    if (lease) request.api_key = std::string(lease.key());

    std::string body;
    bool too_large = false;
    upstream_callbacks callbacks;
    callbacks.on_data = [&](std::string_view bytes) {
        too_large = body.size() + bytes.size() > max_list_bytes;
        if (!too_large) body.append(bytes);
        return !too_large;
    };
    cancel_handle cancel;
    const upstream_outcome outcome = target_.transport.send(request, callbacks, cancel);
    if (too_large) {
        failure = "the answer is larger than " + std::to_string(max_list_bytes) + " bytes";
    } else if (outcome.what != upstream_outcome::kind::completed) {
        failure = std::string(outcome_name(outcome.what)) + (outcome.detail.empty() ? "" : ", " + outcome.detail);
    } else if (outcome.status != 200) {
        failure = "status " + std::to_string(outcome.status);
    } else {
        return parse_model_ids(body, failure);
    }
    return std::nullopt;
}

}  // namespace proxy
