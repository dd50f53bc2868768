// Load client for SSE streams (wrk measures whole responses, not the first
// event of a stream or the events of streams held open).
//
// Load mode: keeps --concurrency streams going back to back on keep-alive
// connections for --warmup + --duration seconds and reports, over the
// --duration window only: streams/s, marker events/s (the delivered chunks),
// time to the response head and to the first body byte (the first SSE event),
// p50/p99.
// Hold mode (--hold): opens --concurrency streams (at most --ramp being set up at
// once), waits until every one has delivered its first event, then reads VmRSS
// and Threads of --watch-pid, holds the streams --hold-seconds, and closes them.
//
// Output: one line of key=value pairs on stdout; problems on stderr. Every
// phase is bounded in time (--timeout for stalls), so the client always ends.
// SPDX-License-Identifier: MIT

#include "net.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace {

struct options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string path = "/";
    std::string body;
    std::vector<std::string> headers;
    int concurrency = 1;
    double duration_s = 5;
    double warmup_s = 1;
    std::string marker;
    int expect = -1;  // marker events per stream; -1: not checked
    bool hold = false;
    double hold_s = 3;
    int watch_pid = 0;
    int ramp = 64;
    double timeout_s = 30;
};

struct stats {
    long long streams = 0;        // completed in the window
    long long all_streams = 0;    // completed at any time (warm-up included), for CPU per stream
    long long bad_streams = 0;    // completed with a marker count other than --expect
    long long errors = 0;         // connect/read failures, non-200, stalls
    long long marker_events = 0;  // in the window
    long long events = 0;         // in the window
    std::vector<std::int64_t> ttfb_us, head_us, total_us;
    std::string first_error;
};

enum class phase { connecting, sending, head, body, idle };

struct connection {
    int fd = -1;
    phase state = phase::connecting;
    std::string out;
    std::size_t out_sent = 0;
    std::string head;
    bool chunked = false;
    bool keep_alive = true;
    long long remaining = -1;   // body bytes left (Content-Length) or in the current chunk
    int chunk_state = 0;        // 0 size line, 1 data, 2 CRLF after data, 3 trailer
    std::string line;
    std::string pending;        // decoded body not yet split into events
    int status = 0;
    int markers = 0;
    std::int64_t t_sent = 0, t_head = 0, t_first = 0, t_progress = 0;
    bool want_out = false;
    int requests = 0;           // sent on this TCP connection
    bool ever_opened = false;   // the ramp limits first openings only
    bool ever_first = false;    // has delivered a first event at least once
    bool hold_done = false;     // hold mode: this slot's one stream has ended
};

std::int64_t percentile(std::vector<std::int64_t>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = std::size_t(std::floor(p * double(v.size())));
    return v[std::min(i, v.size() - 1)];
}

/// VmRSS (kB) and Threads of a process, from /proc/<pid>/status.
void read_status(int pid, long long& rss_kb, long long& threads) {
    rss_kb = threads = -1;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) rss_kb = bench::parse_number(bench::trim(std::string_view(line).substr(6)));
        else if (line.rfind("Threads:", 0) == 0) threads = bench::parse_number(bench::trim(std::string_view(line).substr(8)));
    }
}

class client {
public:
    explicit client(const options& opts) : opts_(opts) {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) bench::die("epoll_create1");
        request_ = "POST " + opts.path + " HTTP/1.1\r\nHost: " + opts.host + ":" + std::to_string(opts.port) +
                   "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " +
                   std::to_string(opts.body.size()) + "\r\n";
        for (const auto& h : opts.headers) request_ += h + "\r\n";
        request_ += "\r\n" + opts.body;
        conns_.resize(std::size_t(opts.concurrency));
    }

    int run() {
        start_ = bench::now_us();
        window_start_ = start_ + std::int64_t(opts_.warmup_s * 1e6);
        window_end_ = window_start_ + std::int64_t(opts_.duration_s * 1e6);
        if (opts_.hold) return run_hold();
        return run_load();
    }

private:
    int run_load() {
        for (auto& c : conns_) c = std::make_unique<connection>();
        while (true) {
            std::int64_t now = bench::now_us();
            if (now >= window_end_) break;
            open_more(now);
            poll(std::min<std::int64_t>(window_end_ - now, 100000));
            check_stalls();
        }
        close_all();
        double window = opts_.duration_s;
        std::printf("mode=load concurrency=%d window_s=%.3f streams=%lld all_streams=%lld errors=%lld bad_streams=%lld "
                    "streams_per_s=%.1f chunks_per_s=%.1f events_per_s=%.1f ttfb_p50_us=%lld ttfb_p99_us=%lld "
                    "head_p50_us=%lld head_p99_us=%lld stream_p50_us=%lld stream_p99_us=%lld\n",
                    opts_.concurrency, window, s_.streams, s_.all_streams, s_.errors, s_.bad_streams, double(s_.streams) / window,
                    double(s_.marker_events) / window, double(s_.events) / window,
                    (long long)percentile(s_.ttfb_us, 0.5), (long long)percentile(s_.ttfb_us, 0.99),
                    (long long)percentile(s_.head_us, 0.5), (long long)percentile(s_.head_us, 0.99),
                    (long long)percentile(s_.total_us, 0.5), (long long)percentile(s_.total_us, 0.99));
        report_first_error();
        return s_.streams > 0 ? 0 : 1;
    }

    int run_hold() {
        for (auto& c : conns_) c = std::make_unique<connection>();
        // Every phase of the hold is bounded: streams must all be open within --timeout.
        const std::int64_t open_deadline = start_ + std::int64_t(opts_.timeout_s * 1e6);
        window_start_ = start_;
        window_end_ = open_deadline;
        std::int64_t ready_at = 0;
        while (bench::now_us() < open_deadline) {
            open_more(bench::now_us());
            poll(50000);
            if (first_events() + s_.errors >= opts_.concurrency) {
                ready_at = bench::now_us();
                break;
            }
        }
        long long open_streams = first_events();
        long long rss_ready = -1, threads_ready = -1, rss_end = -1, threads_end = -1;
        if (opts_.watch_pid) read_status(opts_.watch_pid, rss_ready, threads_ready);
        // For a driver that wants to look at other processes while the streams are held.
        std::fprintf(stderr, "ready opened=%lld\n", open_streams);
        std::fflush(stderr);
        const std::int64_t hold_end = bench::now_us() + std::int64_t(opts_.hold_s * 1e6);
        window_end_ = hold_end;
        long long ended_early = s_.streams;
        while (bench::now_us() < hold_end) poll(std::min<std::int64_t>(hold_end - bench::now_us(), 100000));
        if (opts_.watch_pid) read_status(opts_.watch_pid, rss_end, threads_end);
        long long still_open = 0;
        for (auto& c : conns_)
            if (c && c->fd >= 0 && c->t_first) ++still_open;
        ended_early = s_.streams;
        close_all();
        std::printf("mode=hold concurrency=%d opened=%lld open_s=%.3f still_open=%lld ended_early=%lld errors=%lld "
                    "rss_kb=%lld threads=%lld rss_end_kb=%lld threads_end=%lld ttfb_p50_us=%lld ttfb_p99_us=%lld\n",
                    opts_.concurrency, open_streams, ready_at ? double(ready_at - start_) / 1e6 : -1.0, still_open,
                    ended_early, s_.errors, rss_ready, threads_ready, rss_end, threads_end,
                    (long long)percentile(s_.ttfb_us, 0.5), (long long)percentile(s_.ttfb_us, 0.99));
        report_first_error();
        return open_streams == opts_.concurrency && s_.errors == 0 ? 0 : 1;
    }

    long long first_events() const {
        long long n = 0;
        for (const auto& c : conns_)
            if (c && c->t_first) ++n;
        return n + s_.streams;
    }

    void report_first_error() const {
        if (!s_.first_error.empty()) std::fprintf(stderr, "first error: %s\n", s_.first_error.c_str());
    }

    void error(connection& c, const std::string& what) {
        ++s_.errors;
        if (s_.first_error.empty()) s_.first_error = what;
        drop(c);
        if (opts_.hold) {
            c.t_first = 0;
            c.hold_done = true;
        } else {
            c.state = phase::connecting;  // load mode: try again on a new connection
        }
    }

    void drop(connection& c) {
        if (c.fd >= 0) {
            epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
            ::close(c.fd);
        }
        c.fd = -1;
        c.state = phase::idle;
    }

    void close_all() {
        for (auto& c : conns_)
            if (c) drop(*c);
    }

    /// Starts connections that are idle, keeping at most --ramp in setup at once.
    /// In hold mode each connection carries exactly one stream.
    void open_more(std::int64_t now) {
        int in_setup = 0;
        for (auto& c : conns_)
            if (c->fd >= 0 && !c->ever_first) ++in_setup;
        for (auto& slot : conns_) {
            connection& c = *slot;
            if (c.fd >= 0 || c.state != phase::connecting || c.hold_done) continue;
            if (!c.ever_opened) {
                if (in_setup >= opts_.ramp) continue;
                ++in_setup;
            }
            connect_one(c, now);
        }
    }

    void connect_one(connection& c, std::int64_t now) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) bench::die("socket");
        bench::set_nodelay(fd);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(std::uint16_t(opts_.port));
        inet_pton(AF_INET, opts_.host.c_str(), &addr.sin_addr);
        c.fd = fd;
        c.ever_opened = true;
        c.requests = 0;
        c.want_out = false;
        c.t_first = 0;
        c.t_progress = now;
        int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        if (rc < 0 && errno != EINPROGRESS) {
            error(c, std::string("connect: ") + std::strerror(errno));
            return;
        }
        c.state = phase::connecting;
        c.want_out = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.ptr = &c;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    }

    void set_want_out(connection& c, bool want) {
        if (c.want_out == want) return;
        c.want_out = want;
        epoll_event ev{};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.ptr = &c;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    }

    void start_request(connection& c) {
        c.out = request_;
        c.out_sent = 0;
        c.head.clear();
        c.pending.clear();
        c.line.clear();
        c.chunked = false;
        c.keep_alive = true;
        c.remaining = -1;
        c.chunk_state = 0;
        c.status = 0;
        c.markers = 0;
        c.t_sent = bench::now_us();
        c.t_head = c.t_first = 0;
        c.t_progress = c.t_sent;
        ++c.requests;
        c.state = phase::sending;
        send_some(c);
    }

    void send_some(connection& c) {
        while (c.out_sent < c.out.size()) {
            ssize_t n = send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) {
                    set_want_out(c, true);
                    return;
                }
                error(c, std::string("send: ") + std::strerror(errno));
                return;
            }
            c.out_sent += std::size_t(n);
        }
        set_want_out(c, false);
        c.state = phase::head;
    }

    void poll(std::int64_t timeout_us) {
        epoll_event events[256];
        int n = epoll_wait(epoll_, events, 256, int(std::max<std::int64_t>(0, timeout_us / 1000)));
        char buffer[65536];
        for (int i = 0; i < n; ++i) {
            connection& c = *static_cast<connection*>(events[i].data.ptr);
            if (c.fd < 0) continue;
            if (c.state == phase::connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    error(c, std::string("connect: ") + std::strerror(err));
                    continue;
                }
                if (!(events[i].events & EPOLLOUT)) continue;
                start_request(c);
                if (c.fd < 0) continue;
            } else if (c.state == phase::sending && (events[i].events & EPOLLOUT)) {
                send_some(c);
                if (c.fd < 0) continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t got = recv(c.fd, buffer, sizeof buffer, 0);
                if (got < 0) {
                    if (errno != EAGAIN && errno != EINTR) error(c, std::string("recv: ") + std::strerror(errno));
                    continue;
                }
                if (got == 0) {
                    on_eof(c);
                    continue;
                }
                c.t_progress = bench::now_us();
                on_bytes(c, std::string_view(buffer, std::size_t(got)));
            }
        }
    }

    void check_stalls() {
        std::int64_t now = bench::now_us();
        for (auto& c : conns_)
            if (c->fd >= 0 && now - c->t_progress > std::int64_t(opts_.timeout_s * 1e6))
                error(*c, "no progress for " + std::to_string(opts_.timeout_s) + " s");
    }

    void on_eof(connection& c) {
        // A close-delimited body ends here; anything else was cut short.
        if (c.state == phase::body && !c.chunked && c.remaining < 0) {
            finish_stream(c, false);
            return;
        }
        if (c.state == phase::head && c.head.empty() && c.requests > 1 && !opts_.hold) {
            // The server closed a reused keep-alive connection as we sent: retry on a new one.
            drop(c);
            c.state = phase::connecting;
            return;
        }
        error(c, "connection closed mid-response (status " + std::to_string(c.status) + ")");
    }

    void on_bytes(connection& c, std::string_view data) {
        if (c.state == phase::head) {
            c.head.append(data);
            std::size_t end = c.head.find("\r\n\r\n");
            if (end == std::string::npos) return;
            c.t_head = bench::now_us();
            std::string_view head(c.head.data(), end + 2);
            c.status = int(bench::parse_number(head.substr(head.find(' ') + 1)));
            bench::for_each_header(head, [&](std::string_view name, std::string_view value) {
                if (bench::iequals(name, "content-length")) c.remaining = bench::parse_number(value);
                else if (bench::iequals(name, "transfer-encoding")) c.chunked = value.find("chunked") != value.npos;
                else if (bench::iequals(name, "connection") && bench::iequals(value, "close")) c.keep_alive = false;
            });
            std::string rest = c.head.substr(end + 4);
            c.state = phase::body;
            if (c.chunked) c.remaining = -1;
            if (!c.chunked && c.remaining == 0) {
                finish_stream(c, true);
                return;
            }
            if (!rest.empty()) on_body(c, rest);
            return;
        }
        if (c.state == phase::body) on_body(c, data);
    }

    void on_body(connection& c, std::string_view data) {
        if (!c.chunked) {
            std::size_t take = c.remaining < 0 ? data.size() : std::min<std::size_t>(data.size(), std::size_t(c.remaining));
            on_decoded(c, data.substr(0, take));
            if (c.remaining >= 0) {
                c.remaining -= (long long)take;
                if (c.remaining == 0) finish_stream(c, true);
            }
            return;
        }
        while (!data.empty() && c.fd >= 0 && c.state == phase::body) {
            if (c.chunk_state == 0 || c.chunk_state == 2 || c.chunk_state == 3) {
                std::size_t nl = data.find('\n');
                c.line.append(data.substr(0, nl == data.npos ? data.size() : nl + 1));
                data.remove_prefix(nl == data.npos ? data.size() : nl + 1);
                if (nl == std::string_view::npos) return;
                std::string_view line = bench::trim(std::string_view(c.line).substr(0, c.line.size() - 1));
                if (c.chunk_state == 0) {
                    c.remaining = bench::parse_number(line, 16);
                    if (c.remaining < 0) {
                        error(c, "bad chunk size line");
                        return;
                    }
                    c.chunk_state = c.remaining == 0 ? 3 : 1;
                } else if (c.chunk_state == 2) {
                    c.chunk_state = 0;
                } else if (line.empty()) {
                    c.line.clear();
                    finish_stream(c, true);
                    return;
                }
                c.line.clear();
            } else {
                std::size_t take = std::min<std::size_t>(data.size(), std::size_t(c.remaining));
                on_decoded(c, data.substr(0, take));
                data.remove_prefix(take);
                c.remaining -= (long long)take;
                if (c.remaining == 0) c.chunk_state = 2;
            }
        }
    }

    /// Body bytes: split into SSE events (blank-line separated) and count them.
    void on_decoded(connection& c, std::string_view bytes) {
        if (bytes.empty()) return;
        std::int64_t now = bench::now_us();
        if (!c.t_first) {
            c.t_first = now;
            c.ever_first = true;
            if (opts_.hold) s_.ttfb_us.push_back(now - c.t_sent);  // held streams never finish
        }
        c.pending.append(bytes);
        bool in_window = now >= window_start_ && now < window_end_;
        std::size_t start = 0;
        for (;;) {
            std::size_t end = c.pending.find("\n\n", start);
            if (end == std::string::npos) break;
            std::string_view event(c.pending.data() + start, end - start);
            bool marked = !opts_.marker.empty() && event.find(opts_.marker) != std::string_view::npos;
            if (marked) ++c.markers;
            if (in_window) {
                ++s_.events;
                if (marked) ++s_.marker_events;
            }
            start = end + 2;
        }
        c.pending.erase(0, start);
    }

    void finish_stream(connection& c, bool reusable) {
        std::int64_t now = bench::now_us();
        if (c.status != 200) {
            error(c, "HTTP status " + std::to_string(c.status) + ": " + c.pending.substr(0, 300));
            return;
        }
        ++s_.all_streams;
        if (c.t_sent >= window_start_ && now < window_end_) {
            ++s_.streams;
            if (opts_.expect >= 0 && c.markers != opts_.expect) {
                ++s_.bad_streams;
                if (s_.first_error.empty())
                    s_.first_error = "stream had " + std::to_string(c.markers) + " marker events, expected " +
                                     std::to_string(opts_.expect);
            }
            s_.ttfb_us.push_back(c.t_first ? c.t_first - c.t_sent : 0);
            s_.head_us.push_back(c.t_head - c.t_sent);
            s_.total_us.push_back(now - c.t_sent);
        } else if (opts_.hold) {
            ++s_.streams;
        }
        if (opts_.hold) {
            drop(c);
            c.t_first = 0;
            c.hold_done = true;
            return;
        }
        if (reusable && c.keep_alive) {
            start_request(c);
        } else {
            drop(c);
            c.state = phase::connecting;
        }
    }

    const options& opts_;
    int epoll_ = -1;
    std::string request_;
    std::vector<std::unique_ptr<connection>> conns_;
    stats s_;
    std::int64_t start_ = 0, window_start_ = 0, window_end_ = 0;
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s --url http://127.0.0.1:PORT/PATH --body FILE [--header 'Name: value']...\n"
                 "          [--concurrency 1] [--duration 5] [--warmup 1] [--marker TEXT] [--expect N]\n"
                 "          [--hold] [--hold-seconds 3] [--watch-pid PID] [--ramp 64] [--timeout 30]\n",
                 argv0);
    std::exit(2);
}

bool parse_url(const std::string& url, options& opts) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) return false;
    std::string rest = url.substr(scheme.size());
    std::size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    opts.path = slash == std::string::npos ? "/" : rest.substr(slash);
    std::size_t colon = hostport.rfind(':');
    if (colon == std::string::npos) return false;
    opts.host = hostport.substr(0, colon);
    opts.port = std::atoi(hostport.c_str() + colon + 1);
    return opts.port > 0;
}

options parse_options(int argc, char** argv) {
    options opts;
    bool have_url = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--hold") {
            opts.hold = true;
            continue;
        }
        if (i + 1 >= argc) usage(argv[0]);
        std::string value = argv[++i];
        if (arg == "--url") {
            if (!parse_url(value, opts)) usage(argv[0]);
            have_url = true;
        } else if (arg == "--body") {
            std::ifstream in(value, std::ios::binary);
            if (!in) {
                std::fprintf(stderr, "cannot read %s\n", value.c_str());
                std::exit(2);
            }
            std::ostringstream text;
            text << in.rdbuf();
            opts.body = text.str();
        } else if (arg == "--header") opts.headers.push_back(value);
        else if (arg == "--concurrency") opts.concurrency = std::max(1, std::atoi(value.c_str()));
        else if (arg == "--duration") opts.duration_s = std::atof(value.c_str());
        else if (arg == "--warmup") opts.warmup_s = std::atof(value.c_str());
        else if (arg == "--marker") opts.marker = value;
        else if (arg == "--expect") opts.expect = std::atoi(value.c_str());
        else if (arg == "--hold-seconds") opts.hold_s = std::atof(value.c_str());
        else if (arg == "--watch-pid") opts.watch_pid = std::atoi(value.c_str());
        else if (arg == "--ramp") opts.ramp = std::max(1, std::atoi(value.c_str()));
        else if (arg == "--timeout") opts.timeout_s = std::atof(value.c_str());
        else usage(argv[0]);
    }
    if (!have_url) usage(argv[0]);
    return opts;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    const options opts = parse_options(argc, argv);
    client load(opts);
    return load.run();
}
