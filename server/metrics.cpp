// SPDX-License-Identifier: MIT
#include "metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "log.hpp"

namespace proxy {
namespace {

constexpr const char* prefix = "claude_nvidia_proxy_";

std::string name(const char* suffix) { return std::string(prefix) + suffix; }

// From 1 ms to 5 min: a cached answer to the longest stream the upstream allows.
prometheus::Histogram::BucketBoundaries latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

double seconds(metrics::duration d) { return std::chrono::duration<double>(d).count(); }

prometheus::MetricFamily family_of(const char* suffix, const char* help, prometheus::MetricType type) {
    prometheus::MetricFamily family;
    family.name = name(suffix);
    family.help = help;
    family.type = type;
    return family;
}

prometheus::ClientMetric per_key(const msgbridge::key_stats& key) {
    prometheus::ClientMetric m;
    m.label.push_back({"key", key.redacted_id});
    return m;
}

}  // namespace

struct metrics::families {
    prometheus::Registry registry;
    prometheus::Family<prometheus::Counter>& requests = prometheus::BuildCounter()
        .Name(name("requests_total"))
        .Help("Requests answered, by route pattern, upstream model (empty when none) and HTTP status")
        .Register(registry);
    prometheus::Family<prometheus::Histogram>& duration = prometheus::BuildHistogram()
        .Name(name("request_duration_seconds"))
        .Help("Time from a request's arrival to the end of its answer (a stream's last event)")
        .Register(registry);
    prometheus::Family<prometheus::Histogram>& first_byte = prometheus::BuildHistogram()
        .Name(name("time_to_first_byte_seconds"))
        .Help("Time from a /v1/messages request's arrival to the first byte of its answer")
        .Register(registry);
    prometheus::Family<prometheus::Counter>& tokens = prometheus::BuildCounter()
        .Name(name("tokens_total"))
        .Help("Tokens by upstream model and direction (input, output, cache_read), as the upstream reported them")
        .Register(registry);
};

metrics::metrics() : f_(std::make_unique<families>()) {}

metrics::~metrics() = default;

void metrics::observe_request(std::string_view route, std::string_view model, int status, duration total,
                              std::optional<duration> first_byte) {
    const std::string route_label(route);
    f_->requests.Add({{"route", route_label}, {"model", std::string(model)}, {"status", std::to_string(status)}})
        .Increment();
    f_->duration.Add({{"route", route_label}}, latency_buckets()).Observe(seconds(total));
    if (first_byte) f_->first_byte.Add({{"route", route_label}}, latency_buckets()).Observe(seconds(*first_byte));
}

void metrics::observe_refusal(std::string_view route, int status) {
    f_->requests.Add({{"route", route.empty() ? std::string("unmatched") : std::string(route)}, {"model", ""},
                      {"status", std::to_string(status)}})
        .Increment();
}

void metrics::observe_exchange(const exchange_summary& summary) {
    std::optional<duration> first_byte;
    if (summary.first_byte) first_byte = *summary.first_byte - summary.started;
    observe_request("/v1/messages", summary.upstream_model, summary.status, summary.finished - summary.started,
                    first_byte);
    const std::string model(summary.upstream_model);
    const std::pair<const char*, std::uint64_t> directions[] = {
        {"input", summary.tokens_in}, {"output", summary.tokens_out}, {"cache_read", summary.tokens_cache_read}};
    for (const auto& [direction, count] : directions) {
        if (count > 0) f_->tokens.Add({{"model", model}, {"direction", direction}}).Increment(static_cast<double>(count));
    }
}

std::string metrics::scrape(std::size_t active_streams, const std::vector<msgbridge::key_stats>& keys,
                            std::optional<shared_state_reading> shared) const {
    std::vector<prometheus::MetricFamily> all = f_->registry.Collect();

    auto streams = family_of("active_streams", "Streams being answered now", prometheus::MetricType::Gauge);
    streams.metric.emplace_back().gauge.value = static_cast<double>(active_streams);
    all.push_back(std::move(streams));

    // Per key, from the key pool's own counters and state: they survive a
    // reload that keeps the key, and a key removed by one disappears.
    auto attempts = family_of("upstream_attempts_total",
                              "Upstream attempts by key (redacted id) and outcome: ok, rate_limited, auth_failed, transient",
                              prometheus::MetricType::Counter);
    auto cooling = family_of("key_cooling_down_seconds", "Seconds until the key is usable again (0: usable now)",
                             prometheus::MetricType::Gauge);
    auto quarantined = family_of("key_quarantined", "1 while the key is quarantined after a 401/403",
                                 prometheus::MetricType::Gauge);
    auto in_flight = family_of("key_in_flight", "Upstream requests running on the key now", prometheus::MetricType::Gauge);
    for (const auto& key : keys) {
        const std::pair<const char*, std::uint64_t> outcomes[] = {{"ok", key.successes},
                                                                  {"rate_limited", key.rate_limited},
                                                                  {"auth_failed", key.auth_failures},
                                                                  {"transient", key.transient_failures}};
        for (const auto& [outcome, count] : outcomes) {
            auto m = per_key(key);
            m.label.push_back({"outcome", outcome});
            m.counter.value = static_cast<double>(count);
            attempts.metric.push_back(std::move(m));
        }
        auto c = per_key(key);
        c.gauge.value = std::chrono::duration<double>(key.cooling_for).count();
        cooling.metric.push_back(std::move(c));
        auto q = per_key(key);
        q.gauge.value = key.quarantined ? 1 : 0;
        quarantined.metric.push_back(std::move(q));
        auto f = per_key(key);
        f.gauge.value = key.in_flight;
        in_flight.metric.push_back(std::move(f));
    }
    for (auto* family : {&attempts, &cooling, &quarantined, &in_flight}) all.push_back(std::move(*family));

    if (shared) {
        auto up = family_of("shared_state_up",
                            "1 while the key state shared between instances (REDIS_URL) is reachable; 0: degraded, "
                            "each instance on its own",
                            prometheus::MetricType::Gauge);
        up.metric.emplace_back().gauge.value = shared->connected ? 1 : 0;
        all.push_back(std::move(up));
        auto unavailable = family_of("shared_state_unavailable_total",
                                     "Key pool calls the shared state did not answer (down, slow or busy): the "
                                     "instance decided on its own state",
                                     prometheus::MetricType::Counter);
        unavailable.metric.emplace_back().counter.value = static_cast<double>(shared->unavailable);
        all.push_back(std::move(unavailable));
    }
    return prometheus::TextSerializer().Serialize(all);
}

}  // namespace proxy
