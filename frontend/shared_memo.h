// A map filled once per key and then read by many threads (`kiln lint`'s
// workers share what they look up about directories, configs and ignore
// files). Readers of known keys do not block one another, and no lock is
// held while a value is made: two threads may both make one, and the first
// stored stays.
#pragma once

#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

namespace kiln::frontend {

template <typename Key, typename Value>
class SharedMemo {
 public:
  // The value for `key`, made by `make()` the first time. Values are never
  // changed or erased: the reference stays valid. What make() throws is
  // passed on, and nothing is stored.
  template <typename Make>
  const Value& Get(const Key& key, Make make) {
    {
      std::shared_lock read(mu_);
      if (auto it = map_.find(key); it != map_.end()) return it->second;
    }
    Value made = make();
    std::unique_lock write(mu_);
    return map_.try_emplace(key, std::move(made)).first->second;
  }

 private:
  std::shared_mutex mu_;
  std::map<Key, Value> map_;
};

}  // namespace kiln::frontend
