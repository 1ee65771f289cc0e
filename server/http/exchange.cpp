#include "server/http/exchange.h"

#include <unistd.h>

namespace shirg::http {
namespace detail {

bool BodyBudget::try_reserve(uint64_t bytes) {
  uint64_t used = used_.load();
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return true;
}

void BodyBudget::release(uint64_t bytes) {
  used_.fetch_sub(bytes);
}

BodyReservation::BodyReservation(std::shared_ptr<BodyBudget> budget, uint64_t bytes)
    : budget_(std::move(budget)), bytes_(bytes) {}

BodyReservation::BodyReservation(BodyReservation&& o) noexcept
    : budget_(std::move(o.budget_)), bytes_(o.bytes_) {
  o.bytes_ = 0;
}

BodyReservation& BodyReservation::operator=(BodyReservation&& o) noexcept {
  if (this != &o) {
    reset();
    budget_ = std::move(o.budget_);
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

void BodyReservation::reset() {
  if (budget_ && bytes_) budget_->release(bytes_);
  budget_.reset();
  bytes_ = 0;
}

bool Inbox::post(Action action) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    actions_.push_back(std::move(action));
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  return true;
}

std::vector<Inbox::Action> Inbox::take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Action> out;
  out.swap(actions_);
  return out;
}

void Inbox::close() {
  std::vector<Action> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  dropped.swap(actions_);
}

}  // namespace detail

Exchange::Exchange(std::shared_ptr<detail::Inbox> inbox, uint64_t connection, HttpRequest request,
                   std::string param, detail::BodyReservation reservation)
    : inbox_(std::move(inbox)),
      connection_(connection),
      request_(std::move(request)),
      param_(std::move(param)),
      reservation_(std::move(reservation)) {}

void Exchange::release_body() {
  std::string().swap(request_.body);
  reservation_.reset();
}

void Exchange::post(detail::Inbox::Action action, bool final) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (final) finished_ = true;
  }
  inbox_->post(std::move(action));
}

void Exchange::respond(HttpResponse response) {
  post([self = shared_from_this(), r = std::move(response)](
           detail::ExchangeSink& s) mutable { s.respond(*self, std::move(r)); },
       true);
}

void Exchange::start_stream(HttpResponse head) {
  post([self = shared_from_this(), h = std::move(head)](
           detail::ExchangeSink& s) mutable { s.start_stream(*self, std::move(h)); },
       false);
}

void Exchange::write(std::string data) {
  if (data.empty()) return;
  post([self = shared_from_this(),
        d = std::move(data)](detail::ExchangeSink& s) mutable { s.write(*self, std::move(d)); },
       false);
}

void Exchange::finish_stream() {
  post([self = shared_from_this()](detail::ExchangeSink& s) { s.finish_stream(*self); }, true);
}

void Exchange::on_gone(std::function<void()> f) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!gone_) {
      on_gone_ = std::move(f);
      return;
    }
  }
  f();
}

bool Exchange::gone() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gone_;
}

void Exchange::notify_gone() {
  std::function<void()> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (gone_) return;
    gone_ = true;
    if (!finished_) f.swap(on_gone_);
    on_gone_ = nullptr;
  }
  if (f) f();
}

}  // namespace shirg::http
