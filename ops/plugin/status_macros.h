// absl::Status plumbing shared by the CPU and CUDA kernels.
#ifndef FP8OPS_OPS_PLUGIN_STATUS_MACROS_H_
#define FP8OPS_OPS_PLUGIN_STATUS_MACROS_H_

#define FP8OPS_ASSIGN_OR_RETURN(lhs, expr)      \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

#define FP8OPS_RETURN_IF_ERROR(expr)           \
  do {                                         \
    if (auto _s = (expr); !_s.ok()) return _s; \
  } while (0)

#endif  // FP8OPS_OPS_PLUGIN_STATUS_MACROS_H_
