#include "engine/weights/weight_binder.h"

#include <ATen/ATen.h>

#include <sstream>

namespace shirg {
namespace {

at::ScalarType st_to_scalar_type(st::DType t) {
  switch (t) {
    case st::DType::F64:
      return at::kDouble;
    case st::DType::F32:
      return at::kFloat;
    case st::DType::F16:
      return at::kHalf;
    case st::DType::BF16:
      return at::kBFloat16;
    case st::DType::I64:
      return at::kLong;
    case st::DType::I32:
      return at::kInt;
    case st::DType::I16:
      return at::kShort;
    case st::DType::I8:
      return at::kChar;
    case st::DType::U8:
      return at::kByte;
    case st::DType::BOOL:
      return at::kBool;
    default:
      break;
  }
  throw ModelLoadError(std::string("tensor dtype ") + std::string(st::dtype_name(t)) +
                       " has no LibTorch equivalent");
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << '[';
  for (std::size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

std::string module_of(const std::string& name) {
  const std::string suffix = ".weight";
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return name.substr(0, name.size() - suffix.size());
  return "";
}

void append_list(std::ostringstream& o, const char* title, const std::vector<std::string>& items) {
  if (items.empty()) return;
  o << "\n  " << title << " (" << items.size() << "):";
  const std::size_t shown = std::min<std::size_t>(items.size(), 40);
  for (std::size_t i = 0; i < shown; ++i) o << "\n    " << items[i];
  if (items.size() > shown) o << "\n    ... and " << (items.size() - shown) << " more";
}

}  // namespace

at::Tensor view_to_tensor(const st::TensorView& v, at::ScalarType dtype, at::Device device) {
  const at::ScalarType src = st_to_scalar_type(v.dtype);
  // from_blob over read-only mapped memory: the tensor is only read, then copied by .to().
  at::Tensor view = at::from_blob(const_cast<std::byte*>(v.data), v.shape,
                                  at::TensorOptions().dtype(src).device(at::kCPU));
  at::Tensor out = view.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
  st::release_mapped_pages(v);  // resident memory holds the copy, not also the mapped bytes
  return out;
}

st::DType scalar_type_to_st(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return st::DType::F64;
    case at::kFloat:
      return st::DType::F32;
    case at::kHalf:
      return st::DType::F16;
    case at::kBFloat16:
      return st::DType::BF16;
    case at::kLong:
      return st::DType::I64;
    case at::kInt:
      return st::DType::I32;
    case at::kShort:
      return st::DType::I16;
    case at::kChar:
      return st::DType::I8;
    case at::kByte:
      return st::DType::U8;
    case at::kBool:
      return st::DType::BOOL;
    default:
      break;
  }
  throw std::invalid_argument(std::string("no safetensors dtype for ") + c10::toString(t));
}

WeightBinder::WeightBinder(const st::Checkpoint& ckpt, at::ScalarType compute_dtype,
                           at::Device device, const LoraAdapter* adapter)
    : WeightBinder(
          ckpt, compute_dtype, device,
          adapter ? std::vector<const LoraAdapter*>{adapter} : std::vector<const LoraAdapter*>{}) {}

WeightBinder::WeightBinder(const st::Checkpoint& ckpt, at::ScalarType compute_dtype,
                           at::Device device, std::vector<const LoraAdapter*> adapters)
    : ckpt_(ckpt), dtype_(compute_dtype), device_(device), adapters_(std::move(adapters)) {}

int WeightBinder::merge_into(at::Tensor& w, const std::string& module,
                             const std::vector<int64_t>& shape) {
  int merged = 0;
  for (std::size_t i = 0; i < adapters_.size(); ++i) {
    const std::optional<LoraPair> lora = adapters_[i]->find(module);
    if (!lora) continue;
    used_lora_.insert({i, module});
    at::Tensor a = view_to_tensor(*lora->a, at::kFloat, device_);
    at::Tensor b = view_to_tensor(*lora->b, at::kFloat, device_);
    if (shape.size() != 2 || a.dim() != 2 || b.dim() != 2 || a.size(1) != shape[1] ||
        b.size(0) != shape[0] || a.size(0) != b.size(1)) {
      misshaped_.push_back("adapter " + module + " (" + adapters_[i]->dir() + "): lora_A " +
                           shape_str(a.sizes().vec()) + " / lora_B " + shape_str(b.sizes().vec()) +
                           " do not fit weight " + shape_str(shape));
      continue;
    }
    w.add_(at::matmul(b, a), lora->scale);
    ++merged_modules_;
    ++merged;
  }
  return merged;
}

at::Tensor WeightBinder::take(const std::string& name, std::vector<int64_t> shape) {
  return take_impl(name, shape, dtype_);
}

at::Tensor WeightBinder::take_fp32(const std::string& name, std::vector<int64_t> shape) {
  return take_impl(name, shape, at::kFloat);
}

at::Tensor WeightBinder::take_as(const std::string& name, std::vector<int64_t> shape,
                                 at::ScalarType dtype) {
  return take_impl(name, shape, dtype);
}

at::Tensor WeightBinder::take_impl(const std::string& name, const std::vector<int64_t>& shape,
                                   at::ScalarType dtype) {
  used_.insert(name);
  const auto zeros = [&] {
    return at::zeros(shape, at::TensorOptions().dtype(dtype).device(device_));
  };
  const st::TensorView* v = ckpt_.find(name);
  if (!v) {
    missing_.push_back(name + " " + shape_str(shape));
    return zeros();
  }
  if (v->shape != shape) {
    misshaped_.push_back(name + ": expected " + shape_str(shape) + ", found " +
                         shape_str(v->shape));
    return zeros();
  }
  const std::string module = module_of(name);
  bool adapted = false;
  for (const LoraAdapter* a : adapters_) adapted = adapted || (!module.empty() && a->find(module));
  if (!adapted) return view_to_tensor(*v, dtype, device_);

  // W += s_i * B_i @ A_i for every adapter in order, in fp32, then cast to the compute dtype.
  at::Tensor w = view_to_tensor(*v, at::kFloat, device_);
  // The unmerged weight for the comparison modes (w itself is changed in place below).
  at::Tensor base = dtype == at::kFloat ? w.clone() : w.to(dtype);
  if (merge_into(w, module, shape) > 0) base_[name] = base;
  return w.to(dtype);
}

at::Tensor WeightBinder::base_of(const std::string& name, const at::Tensor& taken) const {
  auto it = base_.find(name);
  return it == base_.end() ? taken : it->second;
}

at::Tensor WeightBinder::take_lora_only(const std::string& module_path, std::vector<int64_t> shape,
                                        bool* merged) {
  *merged = false;
  const std::string name = module_path + ".weight";
  at::Tensor w;
  if (ckpt_.find(name)) {
    w = take_impl(name, shape, at::kFloat);
  } else {
    w = at::zeros(shape, at::TensorOptions().dtype(at::kFloat).device(device_));
    merge_into(w, module_path, shape);
  }
  *merged = false;
  for (std::size_t i = 0; i < adapters_.size(); ++i)
    *merged = *merged || used_lora_.count({i, module_path}) > 0;
  return w.to(dtype_);
}

void WeightBinder::ignore_prefix(const std::string& prefix) {
  ignored_prefixes_.push_back(prefix);
}

std::vector<std::string> WeightBinder::problems() const {
  std::vector<std::string> out;
  for (const auto& m : missing_) out.push_back("missing: " + m);
  for (const auto& m : misshaped_) out.push_back("mis-shaped: " + m);
  for (const auto& n : ckpt_.names()) {
    if (used_.count(n)) continue;
    bool ignored = false;
    for (const auto& p : ignored_prefixes_) ignored = ignored || n.rfind(p, 0) == 0;
    if (!ignored) out.push_back("unexpected: " + n);
  }
  for (std::size_t i = 0; i < adapters_.size(); ++i)
    for (const auto& m : adapters_[i]->module_paths())
      if (!used_lora_.count({i, m}))
        out.push_back("unexpected: adapter module " + m + " matches no weight" +
                      (adapters_.size() > 1 ? " (" + adapters_[i]->dir() + ")" : ""));
  return out;
}

void WeightBinder::finish() const {
  std::vector<std::string> missing = missing_, misshaped = misshaped_, unexpected;
  for (const auto& p : problems())
    if (p.rfind("unexpected: ", 0) == 0) unexpected.push_back(p.substr(12));
  if (missing.empty() && misshaped.empty() && unexpected.empty()) return;
  std::ostringstream o;
  o << "checkpoint does not match its config (" << missing.size() << " missing, "
    << unexpected.size() << " unexpected, " << misshaped.size() << " mis-shaped tensors):";
  append_list(o, "missing", missing);
  append_list(o, "unexpected", unexpected);
  append_list(o, "mis-shaped", misshaped);
  throw ModelLoadError(o.str());
}

}  // namespace shirg
