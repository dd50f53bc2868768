// The upstream side of the adapter: with http_adapter.cpp the only code that
// uses cpp-httplib (its internals only through httplib_seam.hpp).
// SPDX-License-Identifier: MIT
#include "upstream.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <thread>

#include "httplib_seam.hpp"

namespace proxy {
namespace {

// Fires callbacks at deadlines on one thread: the whole-request timeout of
// non-streaming calls (httplib 0.11.4 only knows per-read timeouts).
class deadline_watch {
public:
    using clock = std::chrono::steady_clock;

    deadline_watch() : thread_([this] { run(); }) {}
    ~deadline_watch() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

    std::uint64_t add(clock::time_point when, std::function<void()> fire) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto id = ++next_id_;
        entries_.emplace(std::make_pair(when, id), std::move(fire));
        // Every request gets the same timeout, so a new deadline is almost
        // never earlier than the one the thread already sleeps towards: waking
        // it anyway cost a futex call and a context switch per request.
        if (when < sleeping_until_) {
            sleeping_until_ = when;
            wake_.notify_one();
        }
        return id;
    }

    // After remove() returns, the callback is not running and never will.
    void remove(std::uint64_t id) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->first.second == id) { entries_.erase(it); return; }
        }
    }

private:
    void run() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stop_) {
            if (entries_.empty()) {
                sleeping_until_ = clock::time_point::max();
                wake_.wait(lock);
                continue;
            }
            auto first = entries_.begin();
            // A copy: remove() may erase the entry while this thread waits.
            const clock::time_point when = first->first.first;
            if (clock::now() < when) {
                sleeping_until_ = when;
                wake_.wait_until(lock, when);
                continue;
            }
            auto fire = std::move(first->second);
            entries_.erase(first);
            fire();  // under the lock, so remove() waits for it
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::pair<clock::time_point, std::uint64_t>, std::function<void()>> entries_;
    std::uint64_t next_id_ = 0;
    clock::time_point sleeping_until_ = clock::time_point::min();  // not asleep yet: run() sees new entries itself
    bool stop_ = false;
    std::thread thread_;
};

class http_transport final : public upstream_transport {
public:
    explicit http_transport(const upstream_settings& settings)
        : settings_(settings), url_(parse_upstream_url(settings.url)) {}

    upstream_outcome send(const upstream_request& request, const upstream_callbacks& callbacks,
                          cancel_handle& cancel) override {
        std::unique_ptr<httplib::Client> client = acquire();
        client->set_read_timeout(request.read_timeout);

        httplib::Request req;
        req.method = request.method;
        req.path = request.path.empty() ? url_.path : request.path;
        req.body = request.body;
        if (!request.body.empty()) req.set_header("Content-Type", "application/json");
        if (!request.api_key.empty()) req.set_header("Authorization", "Bearer " + request.api_key);
        if (request.stream) {
            req.set_header("Accept", "text/event-stream");
            // A compressed SSE stream would be held back by the compressor's buffering.
            req.set_header("Accept-Encoding", "identity");
        } else {
            req.set_header("Accept", "application/json");
        }
        for (const auto& [name, value] : settings_.extra_headers) req.set_header(name, value);

        upstream_outcome outcome;
        std::atomic<bool> deadline_passed{false};
        auto last_activity = deadline_watch::clock::now();
        req.response_handler = [&](const httplib::Response& res) {
            last_activity = deadline_watch::clock::now();
            outcome.got_headers = true;
            outcome.status = res.status;
            if (!callbacks.on_headers) return true;
            // httplib's header map compares names case-insensitively.
            auto retry_after = res.headers.find("Retry-After");
            return callbacks.on_headers(res.status, retry_after == res.headers.end() ? std::string_view()
                                                                                      : std::string_view(retry_after->second));
        };
        req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
            last_activity = deadline_watch::clock::now();
            return callbacks.on_data ? callbacks.on_data(std::string_view(data, size)) : true;
        };

        httplib::Client* raw = client.get();
        // httplib's stop() only reaches a connection that is already open;
        // the guard covers a cancel that lands while it is being made.
        httplib_seam::guard_connect(*client, [&cancel] { return cancel.cancelled(); });
        if (!cancel.set_stopper([raw] { raw->stop(); })) {
            httplib_seam::clear_connect_guard(*client);
            cancel.set_stopper(nullptr);
            release(std::move(client), false);
            outcome.what = upstream_outcome::kind::cancelled;
            outcome.detail = "cancelled before sending";
            return outcome;
        }
        std::uint64_t deadline_id = 0;
        if (request.total_timeout.count() > 0) {
            deadline_id = deadlines_.add(deadline_watch::clock::now() + request.total_timeout, [&deadline_passed, raw] {
                deadline_passed = true;
                raw->stop();
            });
        }

        httplib::Response res;
        httplib::Error err = httplib::Error::Success;
        bool ok = client->send(req, res, err);

        if (deadline_id != 0) deadlines_.remove(deadline_id);
        cancel.set_stopper(nullptr);
        httplib_seam::clear_connect_guard(*client);  // it refers to this request's cancel_handle

        if (ok) {
            outcome.what = upstream_outcome::kind::completed;
            outcome.status = res.status;
            outcome.got_headers = true;
        } else if (deadline_passed) {
            outcome.what = upstream_outcome::kind::timed_out;
            outcome.detail = "no complete answer within " + std::to_string(request.total_timeout.count()) + " s";
        } else if (cancel.cancelled() || err == httplib::Error::Canceled) {
            outcome.what = upstream_outcome::kind::cancelled;
            outcome.detail = "cancelled";
        } else {
            outcome.detail = httplib::to_string(err);
            switch (err) {
                case httplib::Error::Connection:
                case httplib::Error::BindIPAddress:
                    outcome.what = upstream_outcome::kind::connect_failed;
                    outcome.detail = "could not connect (refused, unreachable or unknown host)";
                    break;
                case httplib::Error::ConnectionTimeout:
                    outcome.what = upstream_outcome::kind::connect_failed;
                    outcome.detail = "no connection within " + std::to_string(settings_.connect_timeout.count()) +
                                     " s (CONNECT_TIMEOUT_SECONDS)";
                    break;
                case httplib::Error::SSLConnection:
                case httplib::Error::SSLLoadingCerts:
                case httplib::Error::SSLServerVerification:
                    outcome.what = upstream_outcome::kind::tls_failed;
                    if (err == httplib::Error::SSLServerVerification)
                        outcome.detail = "certificate verification failed (not trusted by the system CA store"
                                         " or UPSTREAM_CA_FILE, or issued for another host)";
                    break;
                case httplib::Error::Read:
                    // httplib reports an expired read timeout as a read error.
                    if (deadline_watch::clock::now() - last_activity >= request.read_timeout - std::chrono::milliseconds(500)) {
                        outcome.what = upstream_outcome::kind::timed_out;
                        outcome.detail = "nothing received for " + std::to_string(request.read_timeout.count()) + " s";
                    } else {
                        outcome.what = upstream_outcome::kind::io_failed;
                        outcome.detail = "connection closed or reset while reading";
                    }
                    break;
                default:
                    outcome.what = upstream_outcome::kind::io_failed;
            }
        }
        release(std::move(client), ok);
        return outcome;
    }

private:
    std::unique_ptr<httplib::Client> acquire() {
        {
            std::lock_guard<std::mutex> lock(pool_mutex_);
            if (!idle_.empty()) {
                auto client = std::move(idle_.back());
                idle_.pop_back();
                return client;
            }
        }
        // httplib's universal constructor takes scheme://host[:port], IPv6 in brackets.
        auto client = std::make_unique<httplib::Client>(url_.scheme + "://" + url_.authority);
        client->set_keep_alive(true);
        client->set_tcp_nodelay(true);
        client->set_connection_timeout(settings_.connect_timeout);
        client->set_write_timeout(std::chrono::seconds(60));
        client->set_follow_location(false);
        if (url_.https()) {
            client->enable_server_certificate_verification(true);
            // Without a path httplib loads OpenSSL's default verify paths: the system store.
            if (!settings_.ca_cert_file.empty()) client->set_ca_cert_path(settings_.ca_cert_file);
        }
        return client;
    }

    void release(std::unique_ptr<httplib::Client> client, bool reusable) {
        if (reusable) {
            std::lock_guard<std::mutex> lock(pool_mutex_);
            if (idle_.size() < settings_.max_idle_connections) {
                idle_.push_back(std::move(client));
                return;
            }
        }
        // Destroyed here, outside the lock: closing a TLS connection can take a moment.
    }

    upstream_settings settings_;
    upstream_url url_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<httplib::Client>> idle_;
    deadline_watch deadlines_;
};

}  // namespace

upstream_settings upstream_settings_from(const config& cfg) {
    upstream_settings settings;
    settings.url = cfg.upstream_url;
    settings.connect_timeout = std::chrono::seconds(cfg.connect_timeout_seconds);
    settings.ca_cert_file = cfg.ca_cert_file;
    settings.extra_headers = cfg.upstream_headers;
    return settings;
}

std::unique_ptr<upstream_transport> make_http_transport(const upstream_settings& settings) {
    return std::make_unique<http_transport>(settings);
}

}  // namespace proxy
