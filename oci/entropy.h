// Shannon (order-0) entropy of bytes, in bits per byte: how random a value
// looks to the secret rules, and whether deflate could shrink file data in
// the layer writer.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace kiln::oci {

inline double Entropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  const double n = static_cast<double>(s.size());
  double h = 0;
  for (uint32_t k : counts)
    if (k) h -= k / n * std::log2(k / n);
  return h;
}

}  // namespace kiln::oci
