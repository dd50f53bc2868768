// Two translation units include the whole library; a non-inline definition
// in any header would fail this link with a duplicate symbol.
#include <msgbridge.hpp>

#include <string>

std::string odr_b_error_body();

int main() {
    const std::string a = msgbridge::to_json(msgbridge::invalid_request("model: required"));
    return a == odr_b_error_body() ? 0 : 1;
}
